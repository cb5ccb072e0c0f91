"""equiv_gen.py - equivalent versions of one DSP program, for test_swap_equivalent.sh.

variant(i) returns the C source of version i (i >= 0; deterministic). Every
version computes exactly the same samples (bit for bit on kanon's tcc) from
the same persistent state:

  a 440 Hz sine whose phase is in kn_state,
  + xorshift white noise through a one-pole low-pass (seed and filter memory
    in kn_state), opposite sign on the two channels,
  x a 1 Hz tremolo computed from k->frame,

so a lost or repeated frame, a state glitch (phase, seed or filter) or a
wrong k->frame after a swap changes the output. Peak < 0.48, below the
master limiter's knee, so the recording is the deck's output unchanged.

Versions differ in comments, formatting (indentation, brace style, spacing,
blank lines), names, and in how the same math is written: only rewrites that
are exact in IEEE arithmetic (a*b == b*a, x*2^-23 == x/2^23, a + (-b) ==
a - b, (2*pi_f)*x == 2*(pi_f*x), ...). Every version's text is distinct
(the conductor ignores a save that does not change the file).

  python3 equiv_gen.py DIR N   writes DIR/v000.c .. v(N-1).c (for inspection)
"""
import random
import re
import sys

STRUCTS = [
    "typedef struct {\n    double phase;      /* sine phase, cycles */\n"
    "    unsigned int seed; /* xorshift state */\n    float lp;          /* low-pass memory */\n} Eq;\n",
    "typedef struct eq_state {\n    double ph;\n    unsigned int rng;\n    float mem;\n} Eq;\n",
    "struct eq { double phase; unsigned int seed; float lp; };\ntypedef struct eq Eq;\n",
]
# field names per struct variant: phase, seed, lp
FIELDS = [("phase", "seed", "lp"), ("ph", "rng", "mem"), ("phase", "seed", "lp")]

PTR_NAMES = ["s", "st", "eq"]

XORSHIFT = [
    "x ^= x << 13; x ^= x >> 17; x ^= x << 5;",
    "x = x ^ (x << 13);\n        x = x ^ (x >> 17);\n        x = x ^ (x << 5);",
    "x ^= (x << 13);\n        x ^= (x >> 17);\n        x ^= (x << 5);",
]
SCALE = [
    "(float)(x >> 8) * (2.0f / 16777216.0f) - 1.0f",
    "(float)(x >> 8) / 8388608.0f - 1.0f",
    "(float)(x >> 8) * 1.1920928955078125e-07f - 1.0f",
    "-1.0f + (float)(x >> 8) * (1.0f / 8388608.0f)",
]
ONEPOLE = [
    "{P}->{lp} += 0.05f * (w - {P}->{lp});",
    "{P}->{lp} = {P}->{lp} + 0.05f * (w - {P}->{lp});",
    "float d = w - {P}->{lp};\n        {P}->{lp} = 0.05f * d + {P}->{lp};",
    "{P}->{lp} = (w - {P}->{lp}) * 0.05f + {P}->{lp};",
]
TREMOLO_T = [
    "float t = (float)((k->frame + (uint64_t)i) % 48000u) / 48000.0f;",
    "unsigned long f = k->frame + i;\n        float t = (float)(f % 48000ul) / (float)48000;",
    "float t = (float)((f0 + i) % 48000) / 48000.0f;",
]
TWO_PI = [
    "2 * (float)M_PI * {x}",
    "(float)M_PI * 2.0f * {x}",
    "TWO_PI * {x}",
    "2.0f * ((float)M_PI * {x})",
]
SINE = [
    "float v = 0.2f * sinf({arg});",
    "float v = sinf({arg}) * 0.2f;",
    "float v = sinf({arg});\n        v *= 0.2f;",
]
GAIN = [
    "float g = 1.0f + 0.2f * sinf({arg});",
    "float g = 0.2f * sinf({arg}) + 1.0f;",
]
OUTPUT = [
    "out[0][i] = g * (v + 0.2f * {P}->{lp});\n        out[1][i] = g * (v - 0.2f * {P}->{lp});",
    "for (int c = 0; c < k->channels; c++)\n            out[c][i] = g * (v + (c ? -0.2f : 0.2f) * {P}->{lp});",
    "float n = 0.2f * {P}->{lp};\n        out[0][i] = (v + n) * g;\n        out[1][i] = (v + -n) * g;",
]
PHASE = [
    "{P}->{ph} += inc;\n        if ({P}->{ph} >= 1) {P}->{ph} -= 1;",
    "{P}->{ph} = {P}->{ph} + inc;\n        if (!({P}->{ph} < 1.0)) {P}->{ph} = {P}->{ph} - 1.0;",
    "double p = {P}->{ph} + inc;\n        {P}->{ph} = p >= 1.0 ? p - 1.0 : p;",
]
INC = [
    "double inc = 440.0 / k->rate;",
    "const double inc = 440 / k->rate;",
    "double inc = (double)440 / k->rate;",
]
HEADERS = [
    "/* eq.c - sine + filtered noise + tremolo (version {i}) */",
    "// version {i}: same sound, different text",
    "/*\n * Equivalent program #{i}.\n * Nothing audible changes.\n */",
    "/* v{i} */",
]


def _format(text, rnd):
    """Formatting-only changes: indentation, brace placement, blank lines,
    trailing comments. Never touches tokens."""
    ind = rnd.choice(["    ", "  ", "\t", "        "])
    text = re.sub(r"^((?:    )+)", lambda m: ind * (len(m.group(1)) // 4), text, flags=re.M)
    if rnd.random() < 0.4:  # Allman braces for functions
        text = re.sub(r"^(void [^\n]*\)) \{$", r"\1\n{", text, flags=re.M)
    if rnd.random() < 0.5:  # blank lines sprinkled in
        lines = text.split("\n")
        out = []
        for ln in lines:
            out.append(ln)
            if ln.endswith(";") and rnd.random() < 0.15:
                out.append("")
        text = "\n".join(out)
    if rnd.random() < 0.5:  # trailing comments on statement lines
        text = re.sub(r";$", lambda m: ";" + (" /* . */" if rnd.random() < 0.1 else ""), text,
                      flags=re.M)
    if rnd.random() < 0.3:
        text = text.replace(" = ", "  =  ", 1)
    return text


def variant(i):
    rnd = random.Random(1000003 * i + 7)
    si = rnd.randrange(len(STRUCTS))
    ph, seed, lp = FIELDS[si]
    P = rnd.choice(PTR_NAMES)
    tw = rnd.randrange(len(TWO_PI))
    tsel = rnd.randrange(len(TREMOLO_T))
    gen_fn = rnd.random() < 0.5
    loop_while = rnd.random() < 0.3
    two_pi_def = "#define TWO_PI 6.283185307179586f\n" if tw == 2 or rnd.random() < 0.2 else ""

    def two_pi(x):
        return TWO_PI[tw].format(x=x)

    xs = rnd.choice(XORSHIFT)
    scale = rnd.choice(SCALE)
    if gen_fn:
        noise_fn = ("static float white(unsigned int *sp) {\n    unsigned int x = *sp;\n    "
                    + xs.replace("\n        ", "\n    ") + "\n    *sp = x;\n    return "
                    + scale + ";\n}\n\n")
        noise = "float w = white(&{P}->{seed});"
    else:
        noise_fn = ""
        noise = ("unsigned int x = {P}->{seed};\n        " + xs + "\n        {P}->{seed} = x;\n"
                 "        float w = " + scale + ";")
    body = "\n        ".join([
        noise,
        rnd.choice(ONEPOLE),
        TREMOLO_T[tsel],
        rnd.choice(GAIN).format(arg=two_pi("t")),
        rnd.choice(SINE).format(arg=two_pi("(float){P}->{ph}")),
        rnd.choice(OUTPUT),
        rnd.choice(PHASE),
    ])
    pre = ["uint64_t f0 = k->frame;"] if tsel == 2 else []
    pre.insert(0, rnd.choice(INC))
    if loop_while:
        loop = ("    int i = 0;\n    while (i < frames) {\n        " + body
                + "\n        i++;\n    }\n")
    else:
        loop = "    for (int i = 0; i < frames; i++) {\n        " + body + "\n    }\n"
    src = (rnd.choice(HEADERS).format(i=i) + "\n#include <kanon.h>\n" + two_pi_def + "\n"
           + STRUCTS[si] + "static Eq *{P};\n\n" + noise_fn
           + "void setup(kn_ctx *k) {\n    {P} = kn_state(k, \"eq\", sizeof *{P});\n"
           "    if (!{P}->{seed}) {P}->{seed} = 0x9e3779b9u;\n}\n\n"
           "void process(kn_ctx *k, float **out, int frames) {\n    "
           + "\n    ".join(pre) + "\n" + loop + "}\n")
    src = src.replace("{P}", P).replace("{ph}", ph).replace("{seed}", seed).replace("{lp}", lp)
    src = _format(src, rnd)
    # The version number appears in every text, so no two versions are equal.
    src += "/* version %d */\n" % i
    return src.encode()


if __name__ == "__main__":
    import os
    d, n = sys.argv[1], int(sys.argv[2])
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        with open(os.path.join(d, "v%03d.c" % i), "wb") as f:
            f.write(variant(i))
