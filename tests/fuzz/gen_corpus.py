#!/usr/bin/env python3
"""gen_corpus.py - regenerates the seed corpora tests/fuzz/corpus_control/
and tests/fuzz/corpus_osc/ (run from anywhere; rewrites both directories).

Seeds name the fixtures the harness provides (harness.h): decks "pad",
"sine", "hiss" with parameters, sources and maps in /tmp/kanon-fuzz-fixtures,
and the control-surface map examples/maps/8knob.json.
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = "/tmp/kanon-fuzz-fixtures"


def write_dir(name, seeds):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for fname, data in seeds:
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data)


# ------------------------------------------------------------------ control

def j(**kw):
    return json.dumps(kw, separators=(",", ":"))


control = [
    ("ping", j(cmd="ping")),
    ("ping_req", j(cmd="ping", req="r-1")),
    ("status", j(cmd="status")),
    ("play", j(cmd="play", file=FIX + "/bass.c", deck="bass")),
    ("play_all", j(cmd="play", file=FIX + "/lead.c", display="lead.c", deck="lead",
                   fade_ms=250, watch=True)),
    ("play_nowatch", j(cmd="play", file=FIX + "/bass.c", deck="bass", watch=False, fade_ms=0)),
    ("play_existing", j(cmd="play", file=FIX + "/pad.c", deck="pad", fade_ms=20)),
    ("play_empty", j(cmd="play", file=FIX + "/empty.c", deck="e")),
    ("play_missing", j(cmd="play", file="/nonexistent/x.c", deck="x")),
    ("play_relative", j(cmd="play", file="bass.c", deck="bass")),
    ("play_badname", j(cmd="play", file=FIX + "/bass.c", deck="no/slash")),
    ("play_badfade", j(cmd="play", file=FIX + "/bass.c", deck="bass", fade_ms=-1)),
    ("play_dir", j(cmd="play", file=FIX, deck="d")),
    # a session's group (conductor/session.c): held versions, one start
    ("play_held", j(cmd="play", file=FIX + "/bass.c", deck="bass", hold=True,
                    params={"cutoff": 300, "level": 0.5})),
    ("play_at", j(cmd="play", file=FIX + "/pad.c", deck="pad", start_beat=16)),
    ("play_at_quant", j(cmd="play", file=FIX + "/bass.c", deck="bass", start_beat=1, quant=4)),
    ("play_source", j(cmd="play", file=FIX + "/bass.c", deck="b2", source_file=FIX + "/pad.c")),
    ("play_badparams", j(cmd="play", file=FIX + "/bass.c", deck="b3", params={"": 1, "x": "y"})),
    ("play_presets_playing", j(cmd="play", file=FIX + "/pad.c", deck="pad", params={"a": 1})),
    ("start", j(cmd="start", decks=["bass", "pad"])),
    ("start_beat", j(cmd="start", decks=["bass"], start_beat=1e6, lead_ms=0)),
    ("start_bad", j(cmd="start", decks=[], lead_ms=-1)),
    ("discard", j(cmd="discard", decks=["bass", "nope", "bass"])),
    ("stop_at", j(cmd="stop", deck="pad", at_beat=32)),
    ("stop_at_quant", j(cmd="stop", deck="pad", at_beat=1e300, quant=1)),
    ("map", j(cmd="map")),
    ("map_load_check", j(cmd="map_load", path=FIX + "/8knob.json", check=True, origin="/x.json")),
    ("result", j(cmd="result", deck="pad", id=1)),
    ("result_unknown", j(cmd="result", deck="pad", id=999)),
    ("result_noid", j(cmd="result", deck="pad")),
    ("stop", j(cmd="stop", deck="hiss")),
    ("stop_unknown", j(cmd="stop", deck="nope")),
    ("stop_nodeck", j(cmd="stop")),
    ("note", j(cmd="note", deck="pad", pitch=60, velocity=100, dur=0.5, quant=1)),
    ("note_at", j(cmd="note", deck="pad", pitch=127, velocity=0, at_beat=4, channel=15)),
    ("note_bad", j(cmd="note", deck="pad", pitch=128, velocity=1e300, dur=-1, channel=16)),
    ("midi_route", j(cmd="midi", deck="pad", **{"from": "midi_in_2"}, channel=10)),
    ("midi_off", j(cmd="midi", deck="pad", off=True)),
    ("midi_bad", j(cmd="midi", deck="", **{"from": "midi_in_99"}, channel=17.5)),
    ("midi_routes", j(cmd="midi_routes")),
    ("set", j(cmd="set", deck="pad", name="cutoff", value=800)),
    ("set_ramp", j(cmd="set", deck="sine", name="freq", value=880, ramp_ms=500)),
    ("set_clamp", j(cmd="set", deck="pad", name="level", value=1e300)),
    ("set_badramp", j(cmd="set", deck="pad", name="tempo", value=90, ramp_ms=-5)),
    ("set_noparam", j(cmd="set", deck="pad", name="nope", value=1)),
    ("set_strvalue", j(cmd="set", deck="pad", name="cutoff", value="1")),
    ("set_hostile", j(cmd="set", deck="hiss", name="nan", value=0.5)),
    ("params", j(cmd="params", deck="pad")),
    ("params_hiss", j(cmd="params", deck="hiss")),
    ("record_start", j(cmd="record_start", path="/tmp/kanon-fuzz-never-written.wav")),
    ("record_stop", j(cmd="record_stop")),
    ("log", j(cmd="log")),
    ("log_deck", j(cmd="log", deck="pad", since=2)),
    ("log_since", j(cmd="log", since=1e6)),
    ("history", j(cmd="history", deck="pad")),
    ("history_empty", j(cmd="history", deck="sine")),
    ("revert", j(cmd="revert", deck="pad")),
    ("revert_v1", j(cmd="revert", deck="pad", version=1)),
    ("revert_none", j(cmd="revert", deck="sine", version=7)),
    ("get", j(cmd="get", deck="pad", name="cutoff")),
    ("get_missing", j(cmd="get", deck="sine", name="nope")),
    ("mix", j(cmd="mix")),
    ("mixer", j(cmd="mixer", deck="pad", gain_db=-6, mute=False, solo=True, pan=-0.5,
                ramp_ms=50)),
    ("mixer_master", j(cmd="mixer", deck="master", gain_db=-3, ramp_ms=0)),
    ("mixer_master_pan", j(cmd="mixer", deck="master", pan=0.5)),
    ("mixer_bad", j(cmd="mixer", deck="pad", gain_db=99, mute=1)),
    ("mixer_nodeck", j(cmd="mixer", gain_db=0)),
    ("meters", j(cmd="meters")),
    ("map_load", j(cmd="map_load", path=FIX + "/8knob.json")),
    ("map_load_tiny", j(cmd="map_load", path=FIX + "/tiny.json")),
    ("map_load_bad", j(cmd="map_load", path=FIX + "/bad.json")),
    ("map_load_nopages", j(cmd="map_load", path=FIX + "/nopages.json")),
    ("map_load_notjson", j(cmd="map_load", path=FIX + "/pad.c")),
] + [("map_load_" + m, j(cmd="map_load", path=FIX + "/" + m + ".json"))
     for m in ("badreply", "noin", "badbinding", "nodeck", "badmain", "nomodules", "toomany",
               "manypages", "longaddr")] + [
    ("map_load_missing", j(cmd="map_load", path=FIX + "/missing.json")),
    ("map_load_dir", j(cmd="map_load", path=FIX)),
    ("map_load_relative", j(cmd="map_load", path="8knob.json")),
    ("link_on", j(cmd="link", on=True)),
    ("link_play", j(cmd="link", on=True, playing=True)),
    ("link_bad", j(cmd="link", on=1)),
    ("down", j(cmd="down")),
    # malformed
    ("empty", ""),
    ("not_json", "status"),
    ("array", '["cmd","status"]'),
    ("string", '"status"'),
    ("number", "42"),
    ("null", "null"),
    ("truncated", '{"cmd":"stat'),
    ("nocmd", '{"deck":"pad"}'),
    ("cmd_number", '{"cmd":1}'),
    ("cmd_null", '{"cmd":null}'),
    ("unknown", '{"cmd":"explode"}'),
    ("dup_keys", '{"cmd":"ping","cmd":"down"}'),
    ("nul_inside", b'{"cmd":"ping\x00","x":1}'),
    ("trailing", '{"cmd":"ping"} {"cmd":"status"}'),
    ("deep", "[" * 1200 + "]" * 1200),
    ("unicode", '{"cmd":"play","file":"/tmp/\\u00e9\\ud83d\\ude00.c","deck":"\\u0000"}'),
    ("long_deck", j(cmd="stop", deck="x" * 3000)),
    ("huge_numbers", '{"cmd":"set","deck":"pad","name":"cutoff","value":1e999,"ramp_ms":-1e999}'),
    # fuzz findings (fixed): number-to-integer casts of out-of-range values
    ("regress_result_id", '{"cmd":"result","deck":"pad","id":-1}'),
    ("regress_result_id_inf", '{"cmd":"result","deck":"pad","id":1e999}'),
    ("regress_log_since", '{"cmd":"log","since":1e30}'),
    ("regress_revert_version", '{"cmd":"revert","deck":"pad","version":1e10}'),
    ("regress_revert_version_inf", '{"cmd":"revert","deck":"pad","version":1e3080}'),
]
write_dir("corpus_control", control)

# ---------------------------------------------------------------------- osc


def pad4(b):
    return b + b"\0" * (4 - len(b) % 4)


def s(x):
    return pad4(x.encode() if isinstance(x, str) else x)


def msg(path, *args):
    tags = ","
    data = b""
    for a in args:
        t, v = a
        tags += t
        if t == "f":
            data += struct.pack(">f", v)
        elif t == "d":
            data += struct.pack(">d", v)
        elif t == "i":
            data += struct.pack(">i", v)
        elif t == "h":
            data += struct.pack(">q", v)
        elif t == "t":
            data += struct.pack(">Q", v)
        elif t == "s" or t == "S":
            data += s(v)
        elif t == "b":
            data += struct.pack(">i", len(v)) + (pad4(v) if len(v) % 4 else v)
        elif t == "m" or t == "c" or t == "r":
            data += struct.pack(">I", v)
        # T F N I: no data
    return s(path) + s(tags) + data


def bundle(tt, *elems):
    out = s("#bundle") + struct.pack(">Q", tt)
    for e in elems:
        out += struct.pack(">i", len(e)) + e
    return out


F = lambda v: ("f", v)
I = lambda v: ("i", v)
D = lambda v: ("d", v)
S = lambda v: ("s", v)

osc = [
    # /kanon/DECK/NAME f|i|d
    ("param_f", msg("/kanon/pad/cutoff", F(440.0))),
    ("param_i", msg("/kanon/sine/freq", I(220))),
    ("note_iif", msg("/kanon/pad/note", I(60), I(100), F(0.5))),
    ("note_ii", msg("/kanon/pad/note", I(60), I(0))),
    ("note_bad", msg("/kanon/pad/note", F(200.0), S("x"), F(-1.0))),
    ("param_d", msg("/kanon/pad/tempo", D(128.0))),
    ("param_h", msg("/kanon/pad/level", ("h", 1))),
    ("param_T", msg("/kanon/pad/level", ("T", None))),
    ("param_hostile", msg("/kanon/hiss/nan", F(0.5))),
    ("param_unknown", msg("/kanon/pad/nope", F(1.0))),
    ("param_nodeck", msg("/kanon/zzz/freq", F(1.0))),
    ("param_twoargs", msg("/kanon/pad/cutoff", F(1.0), F(2.0))),
    ("param_string", msg("/kanon/pad/cutoff", S("x"))),
    ("param_noargs", msg("/kanon/pad/cutoff")),
    ("param_nan", msg("/kanon/pad/cutoff", F(float("nan")))),
    ("param_deep", msg("/kanon/pad/cutoff/extra", F(1.0))),
    # mixer
    ("gain", msg("/kanon/pad/gain", F(-6.0))),
    ("gain_bad", msg("/kanon/pad/gain", F(100.0))),
    ("master_gain", msg("/kanon/master/gain", F(-3.0))),
    ("master_mute", msg("/kanon/master/mute", I(1))),
    ("mute", msg("/kanon/sine/mute", I(1))),
    ("solo", msg("/kanon/hiss/solo", I(1))),
    ("pan", msg("/kanon/pad/pan", F(-0.5))),
    ("pan_bad", msg("/kanon/pad/pan", D(3.0))),
    # play / stop
    ("play_s", msg("/kanon/play", S(FIX + "/bass.c"))),
    ("play_ss", msg("/kanon/play", S(FIX + "/lead.c"), S("lead"))),
    ("play_existing", msg("/kanon/play", S(FIX + "/pad.c"), S("pad"))),
    ("play_missing", msg("/kanon/play", S("/nonexistent/x.c"))),
    ("play_relative", msg("/kanon/play", S("bass.c"))),
    ("play_badtypes", msg("/kanon/play", I(1))),
    ("play_noext", msg("/kanon/play", S(FIX))),
    ("stop", msg("/kanon/stop", S("hiss"))),
    ("stop_unknown", msg("/kanon/stop", S("nope"))),
    ("stop_badtypes", msg("/kanon/stop", F(1.0))),
    # subscribe (feedback to port 9, discard: normally closed)
    ("subscribe", msg("/kanon/subscribe", I(9))),
    ("unsubscribe", msg("/kanon/unsubscribe", I(9))),
    ("subscribe_bad", msg("/kanon/subscribe", I(0))),
    ("subscribe_badtypes", msg("/kanon/subscribe", S("9"))),
    ("subscribe_then", bundle(1, msg("/kanon/subscribe", I(9)), msg("/kanon/pad/cutoff", F(900.0)),
                              msg("/kanon/unsubscribe", I(9)))),
    # control surface (examples/maps/8knob.json)
    ("knob1", msg("/ctl/knob/1", F(0.25))),
    ("knob2_i", msg("/ctl/knob/2", I(1))),
    ("knob3_d", msg("/ctl/knob/3", D(0.75))),
    ("knob6_unbound", msg("/ctl/knob/6", F(0.5))),
    ("knob1_push", msg("/ctl/knob/1/push", I(1))),
    ("knob1_push_noarg", msg("/ctl/knob/1/push")),
    ("button1", msg("/ctl/button/1", I(1))),
    ("button2_release", msg("/ctl/button/2", I(0))),
    ("button3", msg("/ctl/button/3", F(1.0))),
    ("main", msg("/ctl/main", F(0.5))),
    ("main_push", msg("/ctl/main/push", I(1))),
    ("page_i", msg("/ctl/page", I(1))),
    ("page_f", msg("/ctl/page", F(0.9))),
    ("module1", msg("/ctl/module/1", I(1))),
    ("module2", msg("/ctl/module/2", I(1))),
    ("module3", msg("/ctl/module/3")),
    ("shift_knob1", bundle(1, msg("/ctl/shift", I(1)), msg("/ctl/knob/1", F(0.3)),
                           msg("/ctl/shift", I(0)))),
    ("shift_latch", msg("/ctl/shift")),
    ("shift_momentary", bundle(1, msg("/ctl/shift", F(1.0)), msg("/ctl/button/1", I(1)),
                               msg("/ctl/shift", F(0.0)), msg("/ctl/button/1", I(0)))),
    ("builtin_knob1", msg("/surface/knob/1", F(0.5))),
    ("page1_knobs", bundle(1, msg("/ctl/page", I(1)), msg("/ctl/knob/1", F(0.1)),
                           msg("/ctl/knob/5", F(0.9)), msg("/ctl/button/1", I(1)),
                           msg("/ctl/page", I(0)))),
    # liblo types and bundles
    ("all_types", msg("/kanon/pad/cutoff", ("i", 1), ("f", 1.0), ("s", "x"), ("b", b"abc"),
                      ("h", 2), ("t", 3), ("d", 4.0), ("S", "sym"), ("c", 65), ("r", 1),
                      ("m", 2), ("T", None), ("F", None), ("N", None), ("I", None))),
    ("bundle_now", bundle(1, msg("/kanon/pad/cutoff", F(500.0)))),
    ("bundle_nested", bundle(1, bundle(1, msg("/kanon/sine/freq", F(300.0))))),
    ("bundle_future", bundle(0xFFFFFFFF00000000, msg("/kanon/pad/cutoff", F(500.0)))),
    ("bundle_empty", bundle(1)),
    # malformed
    ("empty", b""),
    ("path_only", s("/kanon/pad/cutoff")),
    ("no_comma", s("/kanon/pad/cutoff") + s("f") + struct.pack(">f", 1.0)),
    ("short_arg", s("/kanon/pad/cutoff") + s(",f")),
    ("unterminated", b"/kanon/pad/cutoff"),
    ("bad_tag", s("/kanon/pad/cutoff") + s(",q") + b"\0\0\0\0"),
    ("blob_overflow", s("/kanon/pad/cutoff") + s(",b") + struct.pack(">i", 0x7fffffff)),
    ("bundle_badlen", s("#bundle") + struct.pack(">Q", 1) + struct.pack(">i", 1000) + b"/x\0\0"),
    ("bundle_neglen", s("#bundle") + struct.pack(">Q", 1) + struct.pack(">i", -4)),
    ("not_osc", b"hello world"),
    ("pattern", msg("/kanon/*/gain", F(-1.0))),
    ("pattern_play", msg("/kanon/pl?y", S(FIX + "/bass.c"))),
    ("root", msg("/", F(1.0))),
    # fuzz findings (fixed): page knob cast, misaligned lo_arg, liblo's
    # over-read of a zero-length last bundle element, future bundles queued
    ("regress_page_big", msg("/ctl/page", F(3.0e9))),
    ("regress_page_big_d", msg("/ctl/page", D(-1e300))),
    ("regress_play_misaligned", msg("/kanon/play", S("/tmp/kanon/pan-fuzz-fixtures/pad.c"), S("pad"))),
    ("regress_bundle_zero_len", s("#bundle") + struct.pack(">Q", 1) + struct.pack(">i", 0)),
    ("regress_bundle_zero_len_last", bundle(1, msg("/ctl/knob/1", F(0.1))) + struct.pack(">i", 0)),
    ("regress_bundle_future_many", bundle(0xFFFFFFFF00000000,
                                          *[msg("/kanon/pad/cutoff", F(100.0 + i)) for i in range(50)])),
]
write_dir("corpus_osc", osc)
print("wrote %d control and %d OSC seeds" % (len(control), len(osc)))
