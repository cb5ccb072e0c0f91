/*
 * main.c - `kanon COMMAND [args]`: the command table and its help texts.
 *
 * Global: --instance NAME (or $KANON_INSTANCE) picks which conductor to
 * talk to; it may appear anywhere on the line. `kanon CMD --help` prints
 * the command's help with an example.
 */
#include "cli.h"
#include "segment.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary, *help;
} command;

static const command commands[] = {
    {"up", cmd_up, "start the conductor (detached)",
     "usage: kanon up [--backend auto|jack|pulseaudio|alsa|dummy] [--rate HZ] [--block N]\n"
     "                [--latency MS] [--channels N] [--inputs N] [--no-limiter] [--state-mb MB]\n"
     "                [--compile-timeout SECONDS] [--debounce MS] [--history-dir DIR]\n"
     "                [--osc-port PORT] [--osc-host ADDR] [--osc-trust-udp] [--link]\n"
     "                [--midi-ports N] [--midi-clock] [--tier tcc|auto]\n"
     "                [--json]\n"
     "Starts kanon-conductor in the background and prints the backend, rate, block,\n"
     "latency and socket it opened. `auto` tries jack, pulseaudio, alsa, dummy in order.\n"
     "--state-mb MB: the most state a deck may have (1..1024, default 256; a deck starts\n"
     "with 16 and grows to what its first version asks for). --compile-timeout SECONDS:\n"
     "how long a version may take to compile, faust included (1..3600, default 10).\n"
     "Options other than --json are the conductor's and are passed to it unchanged.\n"
     "--json prints the conductor's ready report as one JSON object.\n"
     "--link joins an Ableton Link session at once (see `kanon link`; default off).\n"
     "--inputs N opens the device's capture side too (1..8 channels): the source `in` of\n"
     "`kanon route` (on JACK, ports kanon:in_1 .. kanon:in_N); status shows its latency.\n"
     "--midi-ports N: JACK MIDI inputs kanon:midi_in .. midi_in_N (0..8, default 1), and\n"
     "kanon:midi_out; off JACK the ALSA sequencer client kanon. --midi-clock sends MIDI\n"
     "clock from kanon:midi_out (24 a beat at the timeline's tempo). See `kanon midi`.\n"
     "--tier auto (default): once a version plays on its tcc build, it is compiled again\n"
     "with the system C compiler (cc -O2, sandboxed) and swapped in, without a fade when\n"
     "the builds agree sample for sample; --tier tcc: tcc only. `kanon play --tier` per deck.\n"
     "example: kanon up --backend dummy --block 64\n"},
    {"down", cmd_down, "stop the conductor and every deck; leave nothing behind",
     "usage: kanon down [--json]\n"
     "Stops every cartridge, removes shared memory and the socket, and returns once the\n"
     "conductor is gone. Exits 0 also when no conductor was running; it then removes\n"
     "what a dead one left (cartridges, shared memory, socket) and says so.\n"
     "--json prints {\"instance\":...,\"was_running\":true|false} (plus \"reclaimed\").\n"
     "example: kanon down\n"},
    {"play", cmd_play, "play FILE.c on a deck and swap in every save of it",
     "usage: kanon play FILE.c [--deck NAME] [--fade MS] [--quant N | --at BEAT] [--follow]\n"
     "                  [--no-watch] [--no-wait] [--tier tcc|auto] [--voices N] [--json]\n"
     "Compiles FILE.c in a new cartridge and plays it. The deck is named after the file's\n"
     "stem unless --deck is given (1-31 of A-Z a-z 0-9 _ -, not master; never shortened).\n"
     "The conductor then watches the file: every save starts a new cartridge that takes\n"
     "over at a block boundary with the state, frame count and parameters exactly where\n"
     "the old one stopped, crossfading over --fade MS (default 20; 0 = hard switch). A\n"
     "save that does not compile (or renders NaN/Inf in its test render) is refused and\n"
     "the old code plays on. --follow stays in the foreground and\n"
     "prints each compile's result; --no-watch plays once without following saves;\n"
     "--no-wait returns as soon as the cartridge is started, before it compiled.\n"
     "--quant N: a new deck's first sample falls exactly on the next multiple of N beats\n"
     "(0.25 is a sixteenth; 0, the default, is at once); on a playing deck, this version\n"
     "takes over there. --at BEAT: on beat BEAT's frame (if the deck is not ready by then,\n"
     "whole bars later, on the same place in the bar; the output says so): decks started\n"
     "--at the same beat start on the same sample.\n"
     "--tier tcc keeps the deck on its tcc build; auto gives it the cc tier a moment after\n"
     "each takeover (default: as `kanon up --tier` said; the deck keeps what play says).\n"
     "--voices N (1..32; 0: the program's own) makes a Faust .dsp polyphonic: N voices\n"
     "that notes (MIDI, kanon note, OSC) drive through its freq, gain and gate, in place\n"
     "of its [nvoices:N]; the deck keeps it for every save.\n"
     "--json prints {\"deck\",\"id\",\"compile_ms\"} (with --follow, then one JSON line per\n"
     "event). Exits 1 with file:line: error: ... if the first version does not compile.\n"
     "example: kanon play examples/noise.c --deck hiss --fade 50 --follow\n"},
    {"stop", cmd_stop, "stop one deck (fades out)",
     "usage: kanon stop DECK [--quant N | --at BEAT] [--json]\n"
     "Fades the deck out and ends its cartridge; with --quant N the fade starts exactly on\n"
     "the next multiple of N beats, with --at BEAT on that beat (if it has passed: at\n"
     "once). --json prints {\"deck\",\"stopped\":true}.\n"
     "example: kanon stop sine\n"},
    {"route", cmd_route, "feed a deck (or the audio input) into a deck's port or the master",
     "usage: kanon route SRC DST[:PORT] [--gain DB] [--pre] [--json]\n"
     "Adds a send from SRC (a deck, or the device input: in, in:1, in:1-2) to DST's port\n"
     "(\"in\" if not given; the deck reads it with kn_in) or to master. Post-fader (after\n"
     "SRC's gain, mute and pan) unless --pre. On an existing route, changes its gain (it\n"
     "glides, never zippers) and tap. Every deck routes to master until `kanon unroute X\n"
     "master`. A route may name a deck that does not play yet. A route that would close a\n"
     "cycle is refused, and the error names the cycle. --json prints the routes.\n"
     "example: kanon route drums verb --gain -12\n"},
    {"unroute", cmd_unroute, "remove a route",
     "usage: kanon unroute SRC DST[:PORT] [--json]\n"
     "Removes the route; `kanon unroute X master` makes X a send-only source.\n"
     "example: kanon unroute drums master\n"},
    {"routes", cmd_routes, "list the routes",
     "usage: kanon routes [--json]\n"
     "Lists every route: source, destination and port, gain, tap (pre or post) and the\n"
     "delay that latency compensation gives it. --json prints\n"
     "[{src,dst,port,gain_db,pre,delay}].\n"
     "example: kanon routes\n"},
    {"learn", cmd_learn, "bind a MIDI controller's knob to a parameter (MIDI learn)",
     "usage: kanon learn DECK.PARAM [--timeout S] [--log] [--json]\n"
     "       kanon learn DECK.PARAM --cc N [--channel C] [--from PORT] [--log] [--json]\n"
     "       kanon learn --list | --forget DECK.PARAM | --cancel  [--json]\n"
     "Waits (default 10 s) for the next control change from any MIDI input and binds it:\n"
     "from then on that controller (port, channel, CC number) moves DECK.PARAM over its\n"
     "whole range, 0..127 onto min..max, at the exact frame the CC is delivered (linear,\n"
     "or logarithmic with --log for a range above 0). --cc binds without waiting. One\n"
     "controller per parameter and one parameter per controller: a new binding replaces\n"
     "the old. Bindings are by name (a deck that plays again keeps them) and are saved\n"
     "with the session. --from names a port as `kanon midi` does (default midi_in),\n"
     "--channel is 1..16 (default 1). --json prints the binding, or\n"
     "{bindings:[{deck,param,from,channel,cc,log}],armed,learned,last}.\n"
     "example: kanon learn bass.cutoff\n"},
    {"tempo", cmd_tempo, "show or change the tempo shared by every deck",
     "usage: kanon tempo [BPM] [--bar N] [--ramp BEATS] [--json]\n"
     "Without BPM: prints the tempo, the beats per bar and the current beat. With BPM: the\n"
     "tempo changes at once (from the first frame no deck has rendered yet), or glides\n"
     "there over --ramp BEATS; the beat never jumps. --bar sets the beats per bar (1..64).\n"
     "Default 120 bpm, 4 beats per bar. --json prints {bpm,bar,beat,frame,mono_ns}\n"
     "(mono_ns: the CLOCK_MONOTONIC time, in ns, at which that frame is heard).\n"
     "example: kanon tempo 90 --ramp 8\n"},
    {"link", cmd_link, "share tempo, beat phase and start/stop with Ableton Link peers",
     "usage: kanon link [on|off|start|stop] [--json]\n"
     "on joins an Ableton Link session on the local network (also `kanon up --link`), off\n"
     "leaves it. Joined, kanon and every peer share the tempo, the beat's phase within a\n"
     "bar (the quantum: the beats per bar) and a start/stop flag: `kanon tempo` changes\n"
     "every peer's tempo, a peer's change and its phase reach kanon within a tick (20 ms),\n"
     "and kanon's beat moves onto the session's phase when it joins. start and stop ask the\n"
     "session to start or stop playing on the next bar; kanon has no transport of its own\n"
     "and only shares the flag (for peers such as DAWs). While on, tempi are 20..999 bpm\n"
     "(Link's range). Without an argument: the state. --json prints\n"
     "{enabled,peers,quantum,playing,phase_ms,aligned}.\n"
     "example: kanon link on\n"},
    {"note", cmd_note, "play a note on a deck, now or on a beat",
     "usage: kanon note DECK PITCH [VELOCITY] [--dur BEATS] [--at BEAT | --quant N]\n"
     "                  [--channel 1..16] [--json]\n"
     "Sends the deck's event() a note on: PITCH is a MIDI note number 0..127 (60 is middle\n"
     "C), VELOCITY 1..127 (default 100; 0 sends a note off). --dur BEATS adds its note off\n"
     "that many beats later. --at BEAT lands it exactly on the frame of that beat; --quant N\n"
     "on the next multiple of N beats the deck has not played; neither: as soon as the deck\n"
     "can (its next unrendered frame). Also OSC /kanon/DECK/note iif (docs/midi.md).\n"
     "--json prints {frame,beat,late} (late: the beat had been played; it sounds at once).\n"
     "example: kanon note arp 60 100 --dur 0.5 --quant 1\n"},
    {"midi", cmd_midi, "which MIDI inputs and channels feed which deck",
     "usage: kanon midi [--json]\n"
     "       kanon midi DECK [--from PORT] [--channel 1..16] [--off] [--json]\n"
     "Without DECK: the routes. With DECK: DECK hears MIDI from PORT (midi_in, midi_in_N or\n"
     "N; default any) on channel N (default every channel); a deck may have several\n"
     "routes, and several decks the same input. --off removes the route named, or every\n"
     "route of DECK without --from and --channel. With no route at all, the only deck\n"
     "playing hears everything; with two or more, none does until one is routed. On JACK\n"
     "the ports are kanon:midi_in .. (`kanon up --midi-ports N`); `kanon status` shows\n"
     "the constant latency at which MIDI lands (docs/midi.md). --json prints the routes\n"
     "[{deck,from,channel}] (channel 0: any).\n"
     "example: kanon midi poly --channel 1\n"},
    {"quant", cmd_quant, "make a deck's saves and reverts take over on the beat grid",
     "usage: kanon quant DECK N [--json]\n"
     "Every later save or revert of DECK takes over exactly on the next multiple of N\n"
     "beats, and its crossfade starts there; compiling and the test render still start at\n"
     "the save. 0 switches it off. `kanon status` shows a pending takeover and its beat.\n"
     "example: kanon quant drums 4\n"},
    {"status", cmd_status, "conductor, decks, cartridges, meters, underruns, load",
     "usage: kanon status [--json]\n"
     "The conductor (backend, rate, latency), who outranks whom (priority), the CPU\n"
     "used, an OVERLOAD line and the decks shed while overloaded, the master (peak,\n"
     "RMS, gain, limiter) and per deck: file, cartridge, state (shed: stopped under\n"
     "overload until the next save), DSP load, CPU, underruns, NaN/Inf count, peak and\n"
     "RMS in dBFS, last event. --json prints the conductor's whole status object.\n"
     "example: kanon status --json | jq .decks\n"},
    {"log", cmd_log, "what happened on the decks: compiles, takeovers, errors",
     "usage: kanon log [DECK] [--json]\n"
     "The recent events of every deck (or one): each compile that took over, with its\n"
     "timings, and each refused save with the compiler's message. --json prints the\n"
     "array of events.\n"
     "example: kanon log sine\n"},
    {"history", cmd_history, "list the versions of a deck that took over",
     "usage: kanon history DECK [--json]\n"
     "Every version that took over is kept, numbered, with its time and the folder it is\n"
     "kept in; * marks the one playing. --json prints the conductor's reply.\n"
     "example: kanon history sine\n"},
    {"map", cmd_map, "load or show the control-surface map (OSC knobs, buttons, pages)",
     "usage: kanon map load FILE.json [--json] | kanon map show [--json]\n"
     "Binds a controller's OSC addresses to parameters and the mixer, with value and\n"
     "display feedback (see docs/control-surfaces.md). `show` names the map in force;\n"
     "--json prints {\"map\":null} or {\"map\":{\"path\",\"content\"}} (the map as loaded).\n"
     "With no map, the built-in surface (/surface/knob/N, /surface/button/N, /surface/main,\n"
     "/surface/shift) plays what the decks' code binds with kn_bind(p, \"knob 3\").\n"
     "example: kanon map load examples/maps/8knob.json\n"},
    {"session", cmd_session, "save the decks and their settings to a file; load them again",
     "usage: kanon session (save F.json [--force] | load F.json [--lead MS]) [--json]\n"
     "save writes every deck (name, file, the text of the version playing, parameters, fade,\n"
     "quant, mixer), the master, the routes, the tempo and the control-surface map to F\n"
     "(JSON, \"kanon_session\": 1; a file that is not a session is refused unless --force).\n"
     "load checks all of F first (a mistake is named, e.g. `s.json: decks[2].file: /x/y.c does\n"
     "not exist`, and nothing changes); then every new or changed deck compiles, and all of\n"
     "them start together on the next bar (new decks on the same sample; playing decks of\n"
     "the same name take over there; decks F does not name stop there). --lead MS: start at\n"
     "least MS past what the decks have rendered (default 500 + 100 per deck: time for\n"
     "each new deck's setup()). --json prints\n"
     "{ok,file,start_beat,start_frame,decks:[{name,action,start_beat,start_frame}],stopped,\n"
     "warnings}.\n"
     "example: kanon session save set.json; kanon down; kanon up; kanon session load set.json\n"},
    {"revert", cmd_revert, "play an earlier version of a deck again",
     "usage: kanon revert DECK [VERSION] [--json]\n"
     "Swaps VERSION (default: the one before the current) back in, like a save.\n"
     "--json prints {\"deck\",\"id\",\"compile_ms\"} once it plays.\n"
     "example: kanon revert sine 3\n"},
    {"set", cmd_set, "set a parameter (optionally gliding to it)",
     "usage: kanon set [DECK.]NAME VALUE [--ramp MS] [--at BEAT | --quant N] [--json]\n"
     "Sets the parameter's target; the value is clamped to the declared range. The deck\n"
     "glides there over --ramp MS (0..3600000; default: a 10 ms de-zipper). DECK may be\n"
     "left out while only one deck plays. --at BEAT lands the change on that beat's exact\n"
     "sample, --quant N on the next multiple of N beats (too late: at once, counted as late\n"
     "in status). --json prints the parameter {name,value,current,min,max,default}, or\n"
     "{value,beat,frame} for a timed set.\n"
     "example: kanon set sine.freq 220 --ramp 2000\n"},
    {"get", cmd_get, "show a parameter: value, where a glide stands, range",
     "usage: kanon get [DECK.]NAME [--json]\n"
     "Prints the target value, the current value while a glide is under way, the range\n"
     "and the default. --json prints {name,value,current,min,max,default}.\n"
     "example: kanon get sine.freq\n"},
    {"params", cmd_params, "list a deck's parameters",
     "usage: kanon params [DECK] [--json]\n"
     "The parameters the deck's current code declares: target, current (differs while\n"
     "gliding), range and default. DECK may be left out while only one deck plays.\n"
     "--json prints the array of parameters.\n"
     "example: kanon params sine\n"},
    {"mix", cmd_mix, "show the mixer: master gain; each deck's gain, mute, solo, pan",
     "usage: kanon mix [--json]\n"
     "Pan is shown as L/C/R with the amount. --json prints {master:{gain_db,limiter},\n"
     "decks:[{name,gain_db,mute,solo,pan}]} (and \"ok\").\n"
     "example: kanon mix\n"},
    {"gain", cmd_gain, "set a deck's or the master's gain in dB",
     "usage: kanon gain DECK|master DB [--ramp MS] [--json]\n"
     "DB is -120..24 (0 = unity). The change glides over --ramp MS (0..60000, default\n"
     "10). --json prints the deck's mixer settings (for master: {name,gain_db,limiter}).\n"
     "example: kanon gain hiss -12 --ramp 3000\n"},
    {"mute", cmd_mute, "silence a deck (it keeps playing)",
     "usage: kanon mute DECK [--ramp MS] [--json]\n"
     "The deck keeps running and can be unmuted at once; fades over --ramp MS (default 10).\n"
     "example: kanon mute hiss\n"},
    {"unmute", cmd_unmute, "undo mute",
     "usage: kanon unmute DECK [--ramp MS] [--json]\n"
     "example: kanon unmute hiss --ramp 500\n"},
    {"solo", cmd_solo, "hear only the soloed decks",
     "usage: kanon solo DECK [--ramp MS] [--json]\n"
     "While any deck is soloed, only soloed decks are heard.\n"
     "example: kanon solo sine\n"},
    {"unsolo", cmd_unsolo, "undo solo",
     "usage: kanon unsolo DECK [--ramp MS] [--json]\n"
     "example: kanon unsolo sine\n"},
    {"pan", cmd_pan, "place a deck between left (-1) and right (1)",
     "usage: kanon pan DECK P [--ramp MS] [--json]\n"
     "P is -1 (left) .. 0 (centre) .. 1 (right); glides over --ramp MS (0..60000).\n"
     "example: kanon pan hiss -0.5\n"},
    {"meters", cmd_meters, "peak/RMS per deck and master, load, underruns (--watch: live)",
     "usage: kanon meters [--json] [--watch]\n"
     "Peak and RMS in dBFS of each deck (after its mixer settings) and the master, the\n"
     "deck's DSP load, underruns and NaN/Inf samples replaced, frames the limiter acted\n"
     "on. --watch redraws bars (-60..0 dBFS: # up to RMS, = up to the peak) about 20\n"
     "times a second until Ctrl-C; it exits 2 if the conductor goes away.\n"
     "--json prints the conductor's reply once.\n"
     "example: kanon meters --watch\n"},
    {"record", cmd_record, "record the master (or every deck, or one deck) to WAV files",
     "usage: kanon record start FILE.wav [--deck DECK] [--force] [--json]\n"
     "       kanon record start DIR --stems [--force] [--json] | kanon record stop [--json]\n"
     "A lossless float32 tap of exactly what goes to the device. --stems writes\n"
     "DIR/master.wav and DIR/DECK.wav for every deck (created 0700 if missing): each deck\n"
     "after its gain, mute/solo and pan, exactly what it adds to the master, all files\n"
     "starting on the same frame (a deck that starts later gets leading silence).\n"
     "--deck DECK records that deck alone, after its gain, mute/solo and pan.\n"
     "`stop` reports frames written, dropped (reached the tap but not the file: the disk\n"
     "could not keep up or writing failed) and lost (the device played without data:\n"
     "late callbacks).\n"
     "The header is kept current: after a crash the file holds all but the last ~0.5 s.\n"
     "A FILE that is a deck's source, not a WAV file or not a regular file is refused\n"
     "unless --force (with --stems: any file it would write in DIR). --json prints the\n"
     "conductor's reply ({path,mode,files} /\n"
     "{path,mode,files,frames,dropped,lost,timeline_frame,seconds,error}).\n"
     "example: kanon record start take.wav; sleep 10; kanon record stop\n"
     "example: kanon record start takes/ --stems; sleep 10; kanon record stop\n"},
    {"render", cmd_render, "render FILE.c (or a whole SESSION.json) offline to a WAV file",
     "usage: kanon render FILE.c [-o OUT.wav] [--seconds S] [--rate HZ] [--channels N]\n"
     "                    [--block N] [--set NAME=VALUE]... [--compile-timeout SECONDS]\n"
     "                    [--state-mb MB] [--input IN.wav] [--tier tcc|auto] [--voices N]\n"
     "                    [--force] [--json]\n"
     "       kanon render SESSION.json -o OUT.wav [--seconds S] [--input IN.wav] ...\n"
     "Same compiler and block renderer as a live deck: same input, same samples.\n"
     "A session file (`kanon session save`) renders every deck with its routes and mixer\n"
     "in one process, equal to a live recording of the session from its first frame.\n"
     "--input IN.wav plays the file into the deck's port \"in\" as the audio input would\n"
     "live (`kanon route in DECK`): same rate as the render; mono feeds every channel.\n"
     "Defaults: 10 s, 48000 Hz, 2 channels, block 64, output STEM.wav. Needs no conductor.\n"
     "S is 0..86400. OUT is written only once the render is complete (the old OUT stays\n"
     "until then); an OUT that is FILE.c, not a WAV file or not a regular file is refused\n"
     "unless --force. Over 4 GiB the file is RF64. --compile-timeout (default 10) and\n"
     "--state-mb (default 256) are the limits `kanon up` sets for decks.\n"
     "--tier auto (default) renders the cc build (cc -O2, sandboxed; tcc if cc fails, with a\n"
     "note); --tier tcc the tcc build. Builds that agree sample for sample render the same.\n"
     "--voices N (1..32; 0: the program's own): a Faust .dsp plays N voices, notes driving\n"
     "its freq, gain and gate, in place of its [nvoices:N] (docs/faust.md).\n"
     "--json prints {ok,file,output,seconds,frames,rate,channels,block,compile_ms,\n"
     "tier,realtime_x,process_x,nonfinite} (a compile error: as for kanon check --json).\n"
     "example: kanon render examples/sine.c --seconds 2 --set freq=220 --rate 44100 -o low.wav\n"},
    {"check", cmd_check, "compile FILE.c only; report errors as file:line: error:",
     "usage: kanon check FILE.c [--compile-timeout SECONDS] [--json]\n"
     "Exit 0 if it compiles, 1 with the compiler's message if not (also when it takes\n"
     "longer than --compile-timeout, default 10 s). Needs no conductor.\n"
     "--json prints {ok,file,compile_ms,setup}, or on an error {ok:false,file,text,\n"
     "diagnostics:[{file,line,column,kind,message}]} (column where it is known).\n"
     "example: kanon check my.c\n"},
};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

const char *kn_usage(const char *cmd) {
    static char line[256];
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strcmp(cmd, commands[i].name)) continue;
        const char *h = commands[i].help + strlen("usage: ");
        snprintf(line, sizeof line, "%.*s", (int)strcspn(h, "\n"), h);
        return line;
    }
    return "kanon --help";
}

static void usage(FILE *f) {
    fputs("kanon - live-coding audio in C\n\nusage: kanon [--instance NAME] COMMAND [args]\n\n", f);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs("\n`kanon COMMAND --help` explains a command, with an example. Commands that print\n"
          "data take --json (one JSON value on stdout; errors stay text on stderr).\n"
          "--instance NAME (or $KANON_INSTANCE; default \"default\") picks the conductor.\n"
          "Exit codes: 0 ok, 1 error (bad arguments, bad code, refused command),\n"
          "2 no conductor reachable, 3 internal failure.\n",
          f);
}

/* Removes --instance NAME / --instance=NAME from argv; returns new argc. */
static int take_instance(int argc, char **argv, const char **inst) {
    int j = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--instance") && i + 1 < argc) {
            *inst = argv[++i];
        } else if (!strncmp(argv[i], "--instance=", 11)) {
            *inst = argv[i] + 11;
        } else {
            argv[j++] = argv[i];
        }
    }
    argv[j] = NULL;
    return j;
}

int main(int argc, char **argv) {
    const char *inst = NULL;
    argc = take_instance(argc, argv, &inst);
    if (kn_instance(inst, kn_cli_instance)) {
        fprintf(stderr, "kanon: error: instance names are 1-31 characters of [A-Za-z0-9_-]\n");
        return KN_EXIT_ERR;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        if (argc >= 3 && !strcmp(argv[1], "help"))
            argv[1] = argv[2], argv[2] = "--help";
        else {
            usage(argc < 2 ? stderr : stdout);
            return argc < 2 ? KN_EXIT_ERR : KN_EXIT_OK;
        }
    }
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        if (kn_has_flag(argc - 1, argv + 1, "--help") || kn_has_flag(argc - 1, argv + 1, "-h")) {
            fputs(commands[i].help, stdout);
            return KN_EXIT_OK;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "kanon: error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return KN_EXIT_ERR;
}
