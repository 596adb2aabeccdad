/* snake-pipe's native scanner: one pass over the bytes of an AST JSON document that
 * validates it and measures it, without a Python object per node.
 *
 * The pure-Python path (jsonload.py + formats/) is the reference. This scanner answers one of
 *   OK       the document is valid and these are its measurements (identical to the reference's),
 *   REJECT   the document is bad, with the reason code the reference gives,
 *   UNSURE   something rare that it does not model exactly (duplicate keys, escaped keys,
 *            5,000-digit integers, odd envelope values...),
 * and the caller runs the reference path for everything but OK, so a bad file's detail (line,
 * column, message) is the reference's own.
 *
 * Never recursive: an explicit stack of frames, one per open array or object, bounded by the
 * configured max_depth. Format detection looks at the root's keys: it is decided when the
 * root's first array or object value opens (real writers put the type key first), verified
 * when the root closes, and on a mismatch the scan starts again with the right format.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#ifndef SCANNER_SOURCE_SHA
#define SCANNER_SOURCE_SHA ""
#endif

enum { ST_OK = 0, ST_REJECT = 1, ST_UNSURE = 2, ST_RESCAN = 3, ST_NOMEM = 4 };
enum {
    RS_NONE, RS_EMPTY, RS_ENCODING, RS_INVALID_JSON, RS_TOO_DEEP, RS_NOT_OBJECT,
    RS_UNKNOWN_FORMAT, RS_SCHEMA
};
static const char *REASONS[] = {
    "", "empty", "encoding", "invalid_json", "too_deep", "not_object", "unknown_format", "schema"
};

enum { F_BABEL = 0, F_ESTREE, F_CLANG, F_PYAST, F_TREESITTER, F_GENERIC, F_OPAQUE };

/* kinds of a JSON value as the scanner records it */
enum { V_ABSENT = 0, V_STR, V_LIST, V_OBJ, V_NULL, V_FALSE, V_TRUE, V_NUM };

/* the root keys every detection looks at; the plan appends the generic formats' keys */
enum {
    K_TYPE = 0, K_KIND, K__TYPE, K_NODETYPE, K_NODE_TYPE, K_PROGRAM, K_INNER, K_CHILDREN, K_ID,
    K_BODY, K_LOC, K_START_POINT, K_END_POINT, K_FIXED
};
static const char *FIXED_KEYS[K_FIXED] = {
    "type", "kind", "_type", "nodeType", "node_type", "program", "inner", "children", "id",
    "body", "loc", "start_point", "end_point"
};
static const int COMMON_KEYS[] = {K_TYPE, K_KIND, K_NODETYPE, K_NODE_TYPE, K__TYPE};
#define MAX_RKEYS 64
#define MAX_FORMATS 64
#define MAX_OBJECT_KEYS 512
#define MAX_INT_DIGITS 4000 /* Python refuses int('1' * 4301); the reference path decides */

typedef struct {
    const char *s;
    Py_ssize_t n;
} Str;

typedef struct {
    int kind;
    int type_key;     /* index into rkeys; -1: the first common key holding a string */
    int children_key; /* index into rkeys; -1: every field (all-fields walk) */
    int null_children;
    int clang_notes;
    int nroot_types;
    Str *root_types;
    PyObject *roles; /* node type (str) -> bits of the counts it adds to; NULL: none */
} FormatSpec;

/* A node type's name as a str, kept by the plan from one document to the next: the ~10 names
 * of a 4 KB file are then neither decoded nor hashed again for the histogram's dict. */
#define INTERN_CAP 4096 /* a power of two; at most half of it is used */
#define INTERN_MAX_LEN 256

typedef struct {
    uint32_t hash, len;
    char *bytes; /* the raw bytes between the quotes, as in the document */
    PyObject *str;
} Interned;

typedef struct {
    int nformats;
    FormatSpec formats[MAX_FORMATS];
    int nrkeys;
    Str rkeys[MAX_RKEYS];
    char *arena;
    /* The plan's one mutable part, only ever touched with the GIL held (see type_str). */
    Interned *intern;
    Py_ssize_t interned;
} Plan;

/* frame modes */
enum { M_SKIP = 0, M_ALL, M_NODE, M_KIDS, M_UNDECIDED, M_ROOT_NONE, M_ENV, M_ENV_PARSER,
       M_ENV_SOURCE };
/* frame roles (bits) */
enum {
    ROLE_TOP = 1, ROLE_TREE_ROOT = 2, ROLE_LOC = 4, ROLE_LOC_START = 8, ROLE_LOC_END = 16,
    ROLE_PROGRAM = 32, ROLE_PYBODY = 64, ROLE_PYELEM = 128, ROLE_TS_START = 256,
    ROLE_TS_END = 512
};
/* what the current key of an object is, for the value that follows */
enum {
    CK_OTHER = 0, CK_TYPE, CK_CHILDREN, CK_IMPLICIT, CK_OPCODE, CK_LOC, CK_START, CK_END,
    CK_LINE, CK_BODY, CK_LINENO, CK_END_LINENO, CK_START_POINT, CK_END_POINT, CK_PROGRAM,
    CK_LANGUAGE, CK_PARSER, CK_SOURCE, CK_AST, CK_NAME, CK_OPT_STR, CK_SIZE
};

typedef struct {
    uint8_t is_obj, mode, ck, is_node, has_type, implicit, logical, pad;
    uint16_t role;
    int32_t nd;          /* nodes on the path from the root, this frame included if a node */
    int32_t rk;          /* undecided root: index of the current key in rkeys, or -1 */
    int32_t entry;       /* 1 when tyoff/tylen hold this node's type, else -1 */
    Py_ssize_t tyoff, tylen;
    Py_ssize_t koff, klen; /* the current key of an object */
    uint32_t count;      /* keys of an object, elements of an array */
    uint32_t key_base;   /* start of this object's keys on the key stack */
    int64_t nodes_at_open;
} Frame;

typedef struct {
    uint8_t kind, esc;
    Py_ssize_t off, len;
} Val; /* a recorded scalar value (strings: the raw bytes between the quotes) */

typedef struct {
    Py_ssize_t off;
    uint32_t len, hash;
    int64_t count, implicit, logical;
} Entry;

typedef struct {
    uint64_t hash;
    Py_ssize_t off, len;
} Key;

typedef struct {
    const Plan *plan;
    const uint8_t *b;
    Py_ssize_t n;
    Py_ssize_t max_depth;
    /* forced decisions of a re-scan: -1 unknown */
    int forced_env, forced_fmt, forced_tkey;
    /* outcome */
    int status, reason;
    int schema, not_object, unknown_format;
    /* stack */
    Frame *st;
    Py_ssize_t depth, cap;
    Key *keys;
    Py_ssize_t nkeys, kcap;
    /* histogram */
    Entry *tab;
    Py_ssize_t tcap, tused;
    int64_t nodes, null_nodes;
    int32_t max_nd;
    /* decisions */
    int env;                        /* -1 undecided */
    int fmt, tkey, ckey;            /* active format, type key and children key (rkeys) */
    int fmt_kind, children_mode, null_children, clang_notes;
    /* the tree root's keys */
    Val rinfo[MAX_RKEYS];
    /* envelope */
    int env_seen_ast, env_seen_parser, env_seen_language;
    Val env_language, parser_name, parser_version, source_path;
    int parser_is_obj, source_is_obj, ast_is_obj;
    /* spans */
    int loc_is_obj, loc_start_is_obj, loc_end_is_obj;
    Val loc_start_line, loc_end_line;
    int program_is_obj;
    Val program_type, program_body;
    int py_body_list, py_first_dict, py_last_dict;
    int64_t py_elems;
    Val py_first_lineno, py_last_end_lineno, py_cur_lineno, py_cur_end_lineno;
    Val ts_start_first, ts_end_first;
    int ts_start_list, ts_end_list;
    int64_t ts_start_n, ts_end_n;
} Scan;

/* ---------------------------------------------------------------- bytes */

static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static inline int is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Length of the valid UTF-8 sequence at b[i] (a byte >= 0x80), or 0 if invalid (strict, as
 * Python's decoder: no overlongs, no surrogates, nothing above U+10FFFF). */
static inline int utf8_seq(const uint8_t *b, Py_ssize_t n, Py_ssize_t i)
{
    uint8_t c = b[i];
    Py_ssize_t left = n - i;
#define CONT(k) ((b[i + (k)] & 0xC0) == 0x80)
    if (c >= 0xC2 && c <= 0xDF) {
        return (left >= 2 && CONT(1)) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3) return 0;
        uint8_t c1 = b[i + 1];
        if (c == 0xE0 && (c1 < 0xA0 || c1 > 0xBF)) return 0;
        if (c == 0xED && (c1 < 0x80 || c1 > 0x9F)) return 0;
        if ((c1 & 0xC0) != 0x80) return 0;
        return CONT(2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4) return 0;
        uint8_t c1 = b[i + 1];
        if (c == 0xF0 && (c1 < 0x90 || c1 > 0xBF)) return 0;
        if (c == 0xF4 && (c1 < 0x80 || c1 > 0x8F)) return 0;
        if ((c1 & 0xC0) != 0x80) return 0;
        return (CONT(2) && CONT(3)) ? 4 : 0;
    }
#undef CONT
    return 0;
}

static int utf8_valid(const uint8_t *b, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n) {
        if (b[i] < 0x80) {
            i++;
            continue;
        }
        int k = utf8_seq(b, n, i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

static inline Py_ssize_t skip_ws(const uint8_t *b, Py_ssize_t n, Py_ssize_t i)
{
    for (;;) {
        if (i >= n) return i;
        uint8_t c = b[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return i;
        i++;
#ifdef __SSE2__
        /* pretty-printed documents (Clang's) indent with long runs of spaces */
        if (c == '\n' || c == ' ') {
            while (i + 16 <= n) {
                __m128i v = _mm_loadu_si128((const __m128i *)(b + i));
                int m = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
                if (m != 0xFFFF) {
                    i += __builtin_ctz(~m & 0xFFFF);
                    break;
                }
                i += 16;
            }
        }
#endif
    }
}

/* Scan a string whose opening quote is at b[i-1]; return the index of its closing quote, or
 * -1 with *err set (RS_INVALID_JSON or RS_ENCODING). *esc is set if it has escapes. */
static inline Py_ssize_t scan_string(const uint8_t *b, Py_ssize_t n, Py_ssize_t i, int *esc,
                                     int *err)
{
    for (;;) {
#ifdef __SSE2__
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(b + i));
            __m128i sp = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))); /* signed: also bytes >= 0x80 */
            int m = _mm_movemask_epi8(sp);
            if (m) {
                i += __builtin_ctz(m);
                break;
            }
            i += 16;
        }
#endif
        if (i >= n) {
            *err = RS_INVALID_JSON;
            return -1;
        }
        uint8_t c = b[i];
        if (c == '"') return i;
        if (c == '\\') {
            *esc = 1;
            if (i + 1 >= n) {
                *err = RS_INVALID_JSON;
                return -1;
            }
            uint8_t e = b[i + 1];
            if (e == 'u') {
                if (i + 5 >= n || !is_hex(b[i + 2]) || !is_hex(b[i + 3]) || !is_hex(b[i + 4]) ||
                    !is_hex(b[i + 5])) {
                    *err = RS_INVALID_JSON;
                    return -1;
                }
                i += 6;
            }
            else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                     e == 'r' || e == 't') {
                i += 2;
            }
            else {
                *err = RS_INVALID_JSON;
                return -1;
            }
            continue;
        }
        if (c < 0x20) {
            *err = RS_INVALID_JSON;
            return -1;
        }
        if (c >= 0x80) {
            int k = utf8_seq(b, n, i);
            if (!k) {
                *err = RS_ENCODING;
                return -1;
            }
            i += k;
            continue;
        }
        i++;
    }
}

static inline uint64_t hash_mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 32);
}

/* A hash of a key or a node type, eight bytes at a time (a byte at a time, FNV-1a, took
 * ~1 us of a 4 KB file's 6 us scan). It is only ever compared with another of its kind, the
 * bytes themselves compared after it: any mixing will do, and every read stays in p[0:n]. */
static inline uint64_t key_hash(const uint8_t *p, Py_ssize_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n, w;
    if (n >= 8) {
        const uint8_t *last = p + n - 8;
        for (; p < last; p += 8) {
            memcpy(&w, p, 8);
            h = hash_mix(h, w);
        }
        memcpy(&w, last, 8); /* the last eight bytes, overlapping the loop's last word */
        return hash_mix(h, w);
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = ((uint64_t)a << 32) | b;
    }
    else if (n > 0)
        w = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
    else
        w = 0;
    return hash_mix(h, w);
}

static inline int raw_eq(const Scan *S, Py_ssize_t off, Py_ssize_t len, const Str *s)
{
    return len == s->n && memcmp(S->b + off, s->s, (size_t)len) == 0;
}

static inline int raw_eq_c(const Scan *S, Py_ssize_t off, Py_ssize_t len, const char *s,
                           Py_ssize_t sn)
{
    return len == sn && memcmp(S->b + off, s, (size_t)sn) == 0;
}
#define EQ(S, off, len, lit) raw_eq_c((S), (off), (len), (lit), (Py_ssize_t)(sizeof(lit) - 1))

/* ---------------------------------------------------------------- outcome helpers */

static inline int unsure(Scan *S)
{
    S->status = ST_UNSURE;
    return -1;
}

static inline int nomem(Scan *S)
{
    S->status = ST_NOMEM;
    return -1;
}

/* ---------------------------------------------------------------- histogram */

static int hist_grow(Scan *S)
{
    Py_ssize_t ncap = S->tcap ? S->tcap * 2 : 64;
    Entry *nt = (Entry *)calloc((size_t)ncap, sizeof(Entry));
    if (!nt) return -1;
    for (Py_ssize_t k = 0; k < S->tcap; k++) {
        Entry *e = &S->tab[k];
        if (!e->count) continue;
        Py_ssize_t j = e->hash & (ncap - 1);
        while (nt[j].count) j = (j + 1) & (ncap - 1);
        nt[j] = *e;
    }
    free(S->tab);
    S->tab = nt;
    S->tcap = ncap;
    return 0;
}

/* Count one node of the type whose raw bytes are b[off:off+len]; the entry's index. */
static Py_ssize_t hist_add(Scan *S, Py_ssize_t off, Py_ssize_t len)
{
    if ((S->tused + 1) * 2 > S->tcap && hist_grow(S) < 0) return -1;
    uint32_t h = (uint32_t)key_hash(S->b + off, len) | 1u; /* never 0 */
    Py_ssize_t j = h & (S->tcap - 1);
    for (;;) {
        Entry *e = &S->tab[j];
        if (!e->count) {
            e->off = off;
            e->len = (uint32_t)len;
            e->hash = h;
            e->count = 1;
            S->tused++;
            return j;
        }
        if (e->hash == h && e->len == (uint32_t)len &&
            memcmp(S->b + e->off, S->b + off, (size_t)len) == 0) {
            e->count++;
            return j;
        }
        j = (j + 1) & (S->tcap - 1);
    }
}

/* The entry of a type already counted (entries move when the table grows). */
static Entry *hist_find(Scan *S, Py_ssize_t off, Py_ssize_t len)
{
    uint32_t h = (uint32_t)key_hash(S->b + off, len) | 1u;
    Py_ssize_t j = h & (S->tcap - 1);
    for (;;) {
        Entry *e = &S->tab[j];
        if (!e->count) return NULL;
        if (e->hash == h && e->len == (uint32_t)len &&
            memcmp(S->b + e->off, S->b + off, (size_t)len) == 0)
            return e;
        j = (j + 1) & (S->tcap - 1);
    }
}

/* ---------------------------------------------------------------- detection */

/* 1 if the root value recorded for key k is a string equal to lit, 0 if not, -1 unsure */
static int rstr_is(const Scan *S, int k, const char *lit)
{
    const Val *v = &S->rinfo[k];
    if (v->kind != V_STR) return 0;
    if (v->esc) return -1;
    return raw_eq_c(S, v->off, v->len, lit, (Py_ssize_t)strlen(lit));
}

/* The format of the tree root from its recorded keys: >= 0 its index (and *tkey its type
 * key), -1 none, -2 unsure. With `assume`, keys not seen yet that hold children (program,
 * inner, children) are assumed to come with the right shape. */
static int detect(const Scan *S, int assume, int *tkey)
{
    const Plan *P = S->plan;
    const Val *r = S->rinfo;
    for (int f = 0; f < P->nformats; f++) {
        const FormatSpec *F = &P->formats[f];
        int m;
        switch (F->kind) {
        case F_BABEL:
            m = rstr_is(S, K_TYPE, "File");
            if (m < 0) return -2;
            if (m && (r[K_PROGRAM].kind != V_ABSENT || assume)) {
                *tkey = K_TYPE;
                return f;
            }
            break;
        case F_ESTREE:
            m = rstr_is(S, K_TYPE, "Program");
            if (m < 0) return -2;
            if (m) {
                *tkey = K_TYPE;
                return f;
            }
            break;
        case F_CLANG:
            if (r[K_KIND].kind == V_STR) {
                m = rstr_is(S, K_KIND, "TranslationUnitDecl");
                if (m < 0) return -2;
                if (m || ((r[K_INNER].kind == V_LIST || (assume && r[K_INNER].kind == V_ABSENT)) &&
                          r[K_ID].kind != V_ABSENT)) {
                    *tkey = K_KIND;
                    return f;
                }
            }
            break;
        case F_PYAST:
            if (r[K__TYPE].kind == V_STR) {
                *tkey = K__TYPE;
                return f;
            }
            break;
        case F_TREESITTER:
            if (r[K_TYPE].kind == V_STR &&
                (r[K_CHILDREN].kind == V_LIST || (assume && r[K_CHILDREN].kind == V_ABSENT))) {
                *tkey = K_TYPE;
                return f;
            }
            break;
        case F_GENERIC: {
            int k = -1;
            if (F->type_key >= 0) {
                if (r[F->type_key].kind == V_STR) k = F->type_key;
            }
            else {
                for (size_t c = 0; c < sizeof(COMMON_KEYS) / sizeof(int); c++) {
                    if (r[COMMON_KEYS[c]].kind == V_STR) {
                        k = COMMON_KEYS[c];
                        break;
                    }
                }
            }
            if (k < 0) break;
            if (F->nroot_types) {
                if (r[k].esc) return -2;
                int in = 0;
                for (int t = 0; t < F->nroot_types && !in; t++)
                    in = raw_eq(S, r[k].off, r[k].len, &F->root_types[t]);
                if (!in) break;
            }
            *tkey = k;
            return f;
        }
        default: /* a plug-in: only its own matches() can say */
            return -2;
        }
    }
    return -1;
}

static void activate(Scan *S, int f, int tkey)
{
    const FormatSpec *F = &S->plan->formats[f];
    S->fmt = f;
    S->tkey = tkey;
    S->fmt_kind = F->kind;
    switch (F->kind) {
    case F_CLANG:
        S->ckey = K_INNER;
        S->children_mode = 1;
        S->null_children = 1;
        S->clang_notes = 1;
        break;
    case F_TREESITTER:
        S->ckey = K_CHILDREN;
        S->children_mode = 1;
        S->null_children = 0;
        S->clang_notes = 0;
        break;
    case F_GENERIC:
        S->ckey = F->children_key;
        S->children_mode = F->children_key >= 0;
        S->null_children = 0;
        S->clang_notes = 0;
        break;
    default:
        S->ckey = -1;
        S->children_mode = 0;
        S->null_children = 0;
        S->clang_notes = 0;
    }
}

static inline void see_depth(Scan *S, int32_t nd)
{
    if (nd > S->max_nd) S->max_nd = nd;
}

/* Decide the format of the undecided tree root f (its recorded keys so far, including the
 * key whose container value is opening). */
static int decide_tree(Scan *S, Frame *f, int assume)
{
    int tkey = -1, d;
    if (S->forced_fmt != -9) {
        d = S->forced_fmt;
        tkey = S->forced_tkey;
    }
    else {
        d = detect(S, assume, &tkey);
    }
    if (d == -2) return unsure(S);
    if (d < 0) {
        f->mode = M_ROOT_NONE;
        S->fmt = -1;
        return 0;
    }
    activate(S, d, tkey);
    Val *t = &S->rinfo[tkey];
    if (S->children_mode) {
        f->mode = M_NODE;
        f->nd = 1;
        see_depth(S, 1);
        if (t->kind == V_STR) {
            if (hist_add(S, t->off, t->len) < 0) return nomem(S);
            f->entry = 1;
            f->tyoff = t->off;
            f->tylen = t->len;
            f->has_type = 1;
            S->nodes++;
        }
        else if (t->kind != V_ABSENT) {
            S->schema = 1;
        }
        if (S->ckey >= 0) {
            uint8_t k = S->rinfo[S->ckey].kind;
            if (k != V_ABSENT && k != V_LIST && k != V_NULL && k != V_FALSE) return unsure(S);
        }
    }
    else {
        f->mode = M_ALL;
        f->nd = 0;
        f->nodes_at_open = S->nodes;
        if (t->kind == V_STR) {
            Py_ssize_t e = hist_add(S, t->off, t->len);
            if (e < 0) return nomem(S);
            f->is_node = 1;
            f->nd = 1;
            see_depth(S, 1);
            S->nodes++;
        }
    }
    return 0;
}

static int decide_env(Scan *S, Frame *f, int assume)
{
    int env = S->forced_env >= 0
                  ? S->forced_env
                  : (S->env_seen_ast || (S->env_seen_parser && S->env_seen_language));
    S->env = env;
    if (env) {
        f->mode = M_ENV;
        f->role = ROLE_TOP;
        return 0;
    }
    return decide_tree(S, f, assume);
}

/* The tree root closes: verify the decision with all its keys, derive spans and checks. */
static int close_tree_root(Scan *S, Frame *f)
{
    int tkey = -1;
    int full = detect(S, 0, &tkey);
    if (full == -2) return unsure(S);
    if (full != S->fmt || (full >= 0 && tkey != S->tkey)) {
        if (S->forced_fmt != -9) return unsure(S); /* already re-scanned once */
        S->forced_fmt = full;
        S->forced_tkey = tkey;
        S->status = ST_RESCAN;
        return -1;
    }
    if (full < 0) {
        S->unknown_format = 1;
        return 0;
    }
    if (S->fmt_kind == F_ESTREE && S->rinfo[K_BODY].kind != V_LIST) S->schema = 1;
    if (S->fmt_kind == F_BABEL) {
        if (!S->program_is_obj || S->rinfo[K_PROGRAM].kind != V_OBJ) {
            S->schema = 1;
        }
        else {
            if (S->program_type.kind == V_STR && S->program_type.esc) return unsure(S);
            if (!(S->program_type.kind == V_STR &&
                  EQ(S, S->program_type.off, S->program_type.len, "Program")))
                S->schema = 1;
            else if (S->program_body.kind != V_LIST)
                S->schema = 1;
        }
    }
    if (S->children_mode && !f->has_type) S->schema = 1;
    (void)f;
    return 0;
}

/* ---------------------------------------------------------------- values */

static inline void record(Val *v, uint8_t kind, Py_ssize_t off, Py_ssize_t len, int esc)
{
    v->kind = kind;
    v->off = off;
    v->len = len;
    v->esc = (uint8_t)esc;
}

/* An element of Python's module body completes (scalar, array or object). */
static inline void py_elem_done(Scan *S, int is_dict)
{
    if (S->py_elems == 0) {
        S->py_first_dict = is_dict;
        if (is_dict) S->py_first_lineno = S->py_cur_lineno;
    }
    S->py_last_dict = is_dict;
    S->py_last_end_lineno = is_dict ? S->py_cur_end_lineno : (Val){0};
    S->py_elems++;
}

/* Scalar captures of frames with roles (spans, Babel's program). */
static int role_scalar(Scan *S, Frame *p, uint8_t kind, Py_ssize_t off, Py_ssize_t len, int esc)
{
    if (p->is_obj) {
        if ((p->role & (ROLE_LOC_START | ROLE_LOC_END)) && p->ck == CK_LINE)
            record((p->role & ROLE_LOC_START) ? &S->loc_start_line : &S->loc_end_line, kind, off,
                   len, esc);
        else if ((p->role & ROLE_PYELEM) && p->ck == CK_LINENO)
            record(&S->py_cur_lineno, kind, off, len, esc);
        else if ((p->role & ROLE_PYELEM) && p->ck == CK_END_LINENO)
            record(&S->py_cur_end_lineno, kind, off, len, esc);
        else if ((p->role & ROLE_PROGRAM) && p->ck == CK_TYPE)
            record(&S->program_type, kind, off, len, esc);
        else if ((p->role & ROLE_PROGRAM) && p->ck == CK_BODY)
            record(&S->program_body, kind, off, len, esc);
    }
    else {
        if (p->role & ROLE_PYBODY) py_elem_done(S, 0);
        if ((p->role & ROLE_TS_START) && p->count == 1)
            record(&S->ts_start_first, kind, off, len, esc);
        if ((p->role & ROLE_TS_END) && p->count == 1)
            record(&S->ts_end_first, kind, off, len, esc);
    }
    return 0;
}

/* A string with an escaped surrogate: pydantic cannot take it as a str (the reference says). */
static int surrogate_escape(const Scan *S, Py_ssize_t off, Py_ssize_t len)
{
    const uint8_t *p = S->b + off;
    for (Py_ssize_t k = 0; k + 5 < len; k++) {
        if (p[k] == '\\') {
            if (p[k + 1] == 'u' && (p[k + 2] | 0x20) == 'd' && p[k + 3] >= '8') return 1;
            k++;
        }
    }
    return 0;
}

static inline int env_scalar(Scan *S, Frame *p, uint8_t kind, Py_ssize_t off, Py_ssize_t len,
                             int esc)
{
    Val *dst = NULL;
    if (kind == V_STR && esc && surrogate_escape(S, off, len)) return unsure(S);
    switch (p->ck) {
    case CK_LANGUAGE:
        dst = &S->env_language;
        break;
    case CK_PARSER:
    case CK_SOURCE:
        if (kind != V_NULL) return unsure(S); /* not an object: pydantic's error */
        if (p->ck == CK_PARSER) S->parser_is_obj = 0;
        else S->source_is_obj = 0;
        return 0;
    case CK_AST:
        return unsure(S); /* 'ast' must be an object */
    case CK_NAME:
        if (kind != V_STR) return unsure(S);
        dst = &S->parser_name;
        break;
    case CK_OPT_STR:
        if (kind != V_STR && kind != V_NULL) return unsure(S);
        if (p->mode == M_ENV_PARSER && p->rk == 1) dst = &S->parser_version;
        else if (p->mode == M_ENV_SOURCE && p->rk == 1) dst = &S->source_path;
        break;
    case CK_SIZE:
        if (kind != V_NULL && kind != V_NUM) return unsure(S);
        if (kind == V_NUM) {
            /* an integer literal that pydantic takes as is */
            if (len > 18) return unsure(S);
            for (Py_ssize_t k = 0; k < len; k++) {
                uint8_t c = S->b[off + k];
                if (!is_digit(c) && !(k == 0 && c == '-')) return unsure(S);
            }
        }
        break;
    default:
        break;
    }
    if (dst) {
        if (kind != V_STR && kind != V_NULL) return unsure(S);
        record(dst, kind, off, len, esc);
    }
    return 0;
}

static int on_scalar(Scan *S, uint8_t kind, Py_ssize_t off, Py_ssize_t len, int esc)
{
    if (S->depth == 0) {
        S->not_object = 1;
        return 0;
    }
    Frame *p = &S->st[S->depth - 1];
    if (!p->is_obj) p->count++;
    else if ((p->role & ROLE_TREE_ROOT) && p->rk >= 0)
        record(&S->rinfo[p->rk], kind, off, len, esc);
    switch (p->mode) {
    case M_SKIP:
        break;
    case M_ALL:
        if (p->is_obj && p->ck == CK_TYPE && kind == V_STR) {
            if (S->nodes != p->nodes_at_open) return unsure(S); /* type after its children */
            Py_ssize_t e = hist_add(S, off, len);
            if (e < 0) return nomem(S);
            p->is_node = 1;
            p->nd += 1;
            see_depth(S, p->nd);
            S->nodes++;
        }
        break;
    case M_NODE:
        switch (p->ck) {
        case CK_TYPE:
            if (kind == V_STR) {
                if (hist_add(S, off, len) < 0) return nomem(S);
                p->entry = 1;
                p->tyoff = off;
                p->tylen = len;
                p->has_type = 1;
                S->nodes++;
            }
            else {
                S->schema = 1;
            }
            break;
        case CK_CHILDREN:
            if (kind != V_NULL && kind != V_FALSE && !(kind == V_STR && len == 0))
                return unsure(S);
            break;
        case CK_IMPLICIT:
            if (kind == V_TRUE) p->implicit = 1;
            else if (kind == V_STR) p->implicit = len > 0;
            else if (kind == V_FALSE || kind == V_NULL) p->implicit = 0;
            else return unsure(S);
            break;
        case CK_OPCODE:
            if (kind == V_STR) {
                if (esc) return unsure(S);
                p->logical = EQ(S, off, len, "&&") || EQ(S, off, len, "||");
            }
            else {
                p->logical = 0;
            }
            break;
        default:
            break;
        }
        break;
    case M_KIDS:
        S->schema = 1; /* a child that is not an object */
        break;
    case M_UNDECIDED:
    case M_ROOT_NONE:
        if (p->ck == CK_IMPLICIT || p->ck == CK_OPCODE) {
            uint8_t ck = p->ck;
            if (ck == CK_IMPLICIT) {
                if (kind == V_TRUE) p->implicit = 1;
                else if (kind == V_STR) p->implicit = len > 0;
                else if (kind == V_FALSE || kind == V_NULL) p->implicit = 0;
                else return unsure(S);
            }
            else if (kind == V_STR) {
                if (esc) return unsure(S);
                p->logical = EQ(S, off, len, "&&") || EQ(S, off, len, "||");
            }
            else {
                p->logical = 0;
            }
        }
        if ((p->role & ROLE_TOP) && p->ck == CK_LANGUAGE) {
            if ((kind != V_STR && kind != V_NULL) ||
                (kind == V_STR && esc && surrogate_escape(S, off, len))) {
                record(&S->env_language, V_TRUE, off, len, esc); /* not a string: pydantic */
            }
            else {
                record(&S->env_language, kind, off, len, esc);
            }
        }
        if ((p->role & ROLE_TOP) && (p->ck == CK_PARSER || p->ck == CK_SOURCE)) {
            if (p->ck == CK_PARSER) S->parser_is_obj = kind == V_NULL ? 0 : -1;
            else S->source_is_obj = kind == V_NULL ? 0 : -1;
        }
        if ((p->role & ROLE_TOP) && p->ck == CK_AST) S->ast_is_obj = 0;
        break;
    case M_ENV:
    case M_ENV_PARSER:
    case M_ENV_SOURCE:
        if (env_scalar(S, p, kind, off, len, esc) < 0) return -1;
        break;
    }
    if (p->role && role_scalar(S, p, kind, off, len, esc) < 0) return -1;
    return 0;
}

/* ---------------------------------------------------------------- keys */

static void classify(Scan *S, Frame *p);

static int on_key(Scan *S, Py_ssize_t off, Py_ssize_t len, int esc)
{
    Frame *p = &S->st[S->depth - 1];
    p->count++;
    p->ck = CK_OTHER;
    if (p->mode == M_SKIP && !p->role) return 0; /* nothing below is measured */
    if (esc) return unsure(S);                  /* "\u0074ype" is "type" */
    /* duplicate keys: Python keeps the last value, a one-pass scanner cannot */
    if (p->count > MAX_OBJECT_KEYS) return unsure(S);
    uint64_t h = key_hash(S->b + off, len);
    for (Py_ssize_t k = p->key_base; k < S->nkeys; k++) {
        Key *q = &S->keys[k];
        if (q->hash == h && q->len == len && memcmp(S->b + q->off, S->b + off, (size_t)len) == 0)
            return unsure(S);
    }
    if (S->nkeys == S->kcap) {
        Py_ssize_t nc = S->kcap ? S->kcap * 2 : 256;
        Key *nk = (Key *)realloc(S->keys, (size_t)nc * sizeof(Key));
        if (!nk) return nomem(S);
        S->keys = nk;
        S->kcap = nc;
    }
    S->keys[S->nkeys++] = (Key){h, off, len};
    p->koff = off;
    p->klen = len;
    const Plan *P = S->plan;
    if (p->role & ROLE_TREE_ROOT) {
        p->rk = -1;
        for (int k = 0; k < P->nrkeys; k++) {
            if (raw_eq(S, off, len, &P->rkeys[k])) {
                p->rk = k;
                S->rinfo[k].kind = V_NULL; /* seen; the value's kind follows */
                break;
            }
        }
    }
    if (p->role & ROLE_TOP) {
        if (EQ(S, off, len, "ast")) S->env_seen_ast = 1;
        else if (EQ(S, off, len, "parser")) S->env_seen_parser = 1;
        else if (EQ(S, off, len, "language")) S->env_seen_language = 1;
    }
    classify(S, p);
    return 0;
}

/* What the current key of object p is, for the value that follows, in p's mode. */
static void classify(Scan *S, Frame *p)
{
    const Plan *P = S->plan;
    Py_ssize_t off = p->koff, len = p->klen;
    p->ck = CK_OTHER;
    if (!p->is_obj || !p->count) return;
    switch (p->mode) {
    case M_ALL:
        if (raw_eq(S, off, len, &P->rkeys[S->tkey])) p->ck = CK_TYPE;
        else if (p->role & ROLE_TREE_ROOT) {
            if (EQ(S, off, len, "loc")) p->ck = CK_LOC;
            else if (EQ(S, off, len, "program")) p->ck = CK_PROGRAM;
            else if (EQ(S, off, len, "body")) p->ck = CK_BODY;
        }
        else if (p->role & ROLE_LOC) {
            if (EQ(S, off, len, "start")) p->ck = CK_START;
            else if (EQ(S, off, len, "end")) p->ck = CK_END;
        }
        else if (p->role & (ROLE_LOC_START | ROLE_LOC_END)) {
            if (EQ(S, off, len, "line")) p->ck = CK_LINE;
        }
        else if (p->role & ROLE_PYELEM) {
            if (EQ(S, off, len, "lineno")) p->ck = CK_LINENO;
            else if (EQ(S, off, len, "end_lineno")) p->ck = CK_END_LINENO;
        }
        else if (p->role & ROLE_PROGRAM) {
            if (EQ(S, off, len, "body")) p->ck = CK_BODY;
        }
        break;
    case M_NODE:
        if (raw_eq(S, off, len, &P->rkeys[S->tkey])) p->ck = CK_TYPE;
        else if (S->ckey >= 0 && raw_eq(S, off, len, &P->rkeys[S->ckey])) p->ck = CK_CHILDREN;
        else if (S->clang_notes && EQ(S, off, len, "isImplicit")) p->ck = CK_IMPLICIT;
        else if (S->clang_notes && EQ(S, off, len, "opcode")) p->ck = CK_OPCODE;
        else if ((p->role & ROLE_TREE_ROOT) && S->fmt_kind == F_TREESITTER) {
            if (EQ(S, off, len, "start_point")) p->ck = CK_START_POINT;
            else if (EQ(S, off, len, "end_point")) p->ck = CK_END_POINT;
        }
        break;
    case M_UNDECIDED:
    case M_ROOT_NONE:
        if (EQ(S, off, len, "isImplicit")) p->ck = CK_IMPLICIT;
        else if (EQ(S, off, len, "opcode")) p->ck = CK_OPCODE;
        if (p->role & ROLE_TOP) {
            if (EQ(S, off, len, "ast")) p->ck = CK_AST;
            else if (EQ(S, off, len, "parser")) p->ck = CK_PARSER;
            else if (EQ(S, off, len, "language")) p->ck = CK_LANGUAGE;
            else if (EQ(S, off, len, "source")) p->ck = CK_SOURCE;
        }
        break;
    case M_ENV:
        if (EQ(S, off, len, "ast")) p->ck = CK_AST;
        else if (EQ(S, off, len, "parser")) p->ck = CK_PARSER;
        else if (EQ(S, off, len, "language")) p->ck = CK_LANGUAGE;
        else if (EQ(S, off, len, "source")) p->ck = CK_SOURCE;
        break;
    case M_ENV_PARSER:
        p->rk = 0;
        if (EQ(S, off, len, "name")) p->ck = CK_NAME;
        else if (EQ(S, off, len, "version")) {
            p->ck = CK_OPT_STR;
            p->rk = 1;
        }
        else if (EQ(S, off, len, "grammar") || EQ(S, off, len, "grammar_version"))
            p->ck = CK_OPT_STR;
        break;
    case M_ENV_SOURCE:
        p->rk = 0;
        if (EQ(S, off, len, "path")) {
            p->ck = CK_OPT_STR;
            p->rk = 1;
        }
        else if (EQ(S, off, len, "sha256"))
            p->ck = CK_OPT_STR;
        else if (EQ(S, off, len, "size"))
            p->ck = CK_SIZE;
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- containers */

static int push(Scan *S, Frame **out)
{
    if (S->depth == S->cap) {
        Py_ssize_t nc = S->cap ? S->cap * 2 : 64;
        Frame *ns = (Frame *)realloc(S->st, (size_t)nc * sizeof(Frame));
        if (!ns) return nomem(S);
        S->st = ns;
        S->cap = nc;
    }
    Frame *c = &S->st[S->depth++];
    memset(c, 0, sizeof(*c));
    c->entry = -1;
    c->rk = -1;
    c->key_base = (uint32_t)S->nkeys;
    c->nodes_at_open = S->nodes;
    *out = c;
    return 0;
}

static int on_open(Scan *S, int is_obj)
{
    Frame *p = S->depth ? &S->st[S->depth - 1] : NULL;
    if (p && !p->is_obj) p->count++;
    if (p && (p->role & ROLE_TREE_ROOT) && p->is_obj && p->rk >= 0)
        S->rinfo[p->rk].kind = is_obj ? V_OBJ : V_LIST;
    if (p && p->mode == M_UNDECIDED) {
        /* the root's first container value: decide now, with the key being opened */
        if (p->role & ROLE_TOP) {
            if (p->ck == CK_PARSER) S->parser_is_obj = is_obj ? 1 : -1;
            if (p->ck == CK_SOURCE) S->source_is_obj = is_obj ? 1 : -1;
            if (p->ck == CK_AST && !is_obj) S->ast_is_obj = 0;
            if (decide_env(S, p, 1) < 0) return -1;
        }
        else if (decide_tree(S, p, 1) < 0) {
            return -1;
        }
        classify(S, p); /* the current key, as the decided mode sees it */
    }
    Frame *c;
    if (push(S, &c) < 0) return -1;
    p = S->depth > 1 ? &S->st[S->depth - 2] : NULL;
    c->is_obj = (uint8_t)is_obj;
    if (!p) {
        if (!is_obj) {
            S->not_object = 1;
            c->mode = M_SKIP;
        }
        else {
            c->mode = M_UNDECIDED;
            c->role = ROLE_TOP | ROLE_TREE_ROOT;
        }
        return 0;
    }
    switch (p->mode) {
    case M_SKIP:
    case M_ROOT_NONE:
        c->mode = M_SKIP;
        break;
    case M_ALL:
        c->mode = M_ALL;
        c->nd = p->nd;
        if (p->role) {
            if ((p->role & ROLE_TREE_ROOT) && is_obj && p->ck == CK_LOC &&
                (S->fmt_kind == F_ESTREE || S->fmt_kind == F_BABEL)) {
                c->role = ROLE_LOC;
                S->loc_is_obj = 1;
            }
            else if ((p->role & ROLE_TREE_ROOT) && p->ck == CK_PROGRAM && S->fmt_kind == F_BABEL) {
                if (is_obj) {
                    c->role = ROLE_PROGRAM;
                    S->program_is_obj = 1;
                }
            }
            else if ((p->role & ROLE_TREE_ROOT) && !is_obj && p->ck == CK_BODY &&
                     S->fmt_kind == F_PYAST) {
                c->role = ROLE_PYBODY;
                S->py_body_list = 1;
            }
            else if ((p->role & ROLE_LOC) && is_obj && (p->ck == CK_START || p->ck == CK_END)) {
                c->role = p->ck == CK_START ? ROLE_LOC_START : ROLE_LOC_END;
                if (p->ck == CK_START) S->loc_start_is_obj = 1;
                else S->loc_end_is_obj = 1;
            }
            else if (p->role & ROLE_PYBODY) {
                if (is_obj) {
                    c->role = ROLE_PYELEM;
                    S->py_cur_lineno = (Val){0};
                    S->py_cur_end_lineno = (Val){0};
                }
                else {
                    c->role = ROLE_PYELEM; /* an array element: not a dict */
                }
            }
            else if ((p->role & ROLE_PROGRAM) && p->ck == CK_BODY) {
                S->program_body.kind = is_obj ? V_OBJ : V_LIST;
            }
        }
        break;
    case M_NODE:
        if (p->ck == CK_CHILDREN) {
            if (is_obj) return unsure(S); /* {} is falsy, {...} a schema problem */
            c->mode = M_KIDS;
            c->nd = p->nd;
        }
        else if (p->ck == CK_TYPE) {
            S->schema = 1;
            c->mode = M_SKIP;
        }
        else if (p->ck == CK_IMPLICIT) {
            return unsure(S); /* truthiness of a container */
        }
        else {
            c->mode = M_SKIP;
            if (!is_obj && (p->role & ROLE_TREE_ROOT)) {
                if (p->ck == CK_START_POINT) {
                    c->role = ROLE_TS_START;
                    S->ts_start_list = 1;
                }
                else if (p->ck == CK_END_POINT) {
                    c->role = ROLE_TS_END;
                    S->ts_end_list = 1;
                }
            }
        }
        break;
    case M_KIDS:
        if (is_obj) {
            c->mode = M_NODE;
            c->nd = p->nd + 1;
            see_depth(S, c->nd);
        }
        else {
            S->schema = 1;
            c->mode = M_SKIP;
        }
        break;
    case M_ENV:
        if (p->ck == CK_AST) {
            if (!is_obj) return unsure(S);
            c->mode = M_UNDECIDED;
            c->role = ROLE_TREE_ROOT;
            S->ast_is_obj = 1;
            memset(S->rinfo, 0, sizeof(S->rinfo));
        }
        else if (p->ck == CK_PARSER) {
            if (!is_obj) return unsure(S);
            c->mode = M_ENV_PARSER;
            S->parser_is_obj = 1;
        }
        else if (p->ck == CK_SOURCE) {
            if (!is_obj) return unsure(S);
            c->mode = M_ENV_SOURCE;
            S->source_is_obj = 1;
        }
        else if (p->ck == CK_LANGUAGE) {
            return unsure(S);
        }
        else {
            c->mode = M_SKIP;
        }
        break;
    case M_ENV_PARSER:
    case M_ENV_SOURCE:
        if (p->ck != CK_OTHER) return unsure(S);
        c->mode = M_SKIP;
        break;
    default:
        return unsure(S);
    }
    return 0;
}

static int on_close(Scan *S)
{
    Frame *f = &S->st[S->depth - 1];
    if (f->mode == M_UNDECIDED) {
        if (f->role & ROLE_TOP) {
            if (decide_env(S, f, 0) < 0) return -1;
        }
        else if (decide_tree(S, f, 0) < 0) {
            return -1;
        }
    }
    switch (f->mode) {
    case M_NODE:
        if (!f->has_type) {
            if (S->null_children && f->count == 0) {
                S->null_nodes++;
                S->nodes++;
            }
            else if (!(f->role & ROLE_TREE_ROOT)) {
                S->schema = 1;
            }
        }
        else if (S->clang_notes && (f->implicit || f->logical)) {
            Entry *e = hist_find(S, f->tyoff, f->tylen);
            if (!e) return unsure(S); /* cannot happen: the type was counted */
            if (f->implicit) e->implicit++;
            if (f->logical) e->logical++;
        }
        break;
    case M_ENV:
        /* the reference says what is missing or of the wrong type */
        if (!S->ast_is_obj || S->parser_is_obj < 0 || S->source_is_obj < 0 ||
            S->env_language.kind == V_TRUE)
            return unsure(S);
        break;
    case M_ENV_PARSER:
        if (S->parser_name.kind != V_STR) return unsure(S); /* 'name' is required */
        break;
    case M_SKIP:
        if (f->role & ROLE_TS_START) S->ts_start_n = f->count;
        if (f->role & ROLE_TS_END) S->ts_end_n = f->count;
        break;
    default:
        break;
    }
    if (f->role & ROLE_TREE_ROOT) {
        if (close_tree_root(S, f) < 0) return -1;
    }
    if (f->role & ROLE_TOP) {
        int env_full = S->env_seen_ast || (S->env_seen_parser && S->env_seen_language);
        if (env_full != S->env) {
            if (S->forced_env >= 0) return unsure(S);
            S->forced_env = env_full;
            S->forced_fmt = -9;
            S->status = ST_RESCAN;
            return -1;
        }
    }
    S->nkeys = f->key_base;
    S->depth--;
    if (S->depth) {
        Frame *p = &S->st[S->depth - 1];
        if (p->role & ROLE_PYBODY) py_elem_done(S, f->is_obj);
    }
    return 0;
}

/* ---------------------------------------------------------------- the pass */

static int json_error(Scan *S, int reason)
{
    /* Invalid UTF-8 anywhere wins, as the reference checks it before anything else. */
    if (reason != RS_ENCODING && !utf8_valid(S->b, S->n)) reason = RS_ENCODING;
    if (reason == RS_TOO_DEEP && S->max_depth < 1024) return unsure(S);
    S->status = ST_REJECT;
    S->reason = reason;
    return -1;
}

static inline int lit(const uint8_t *b, Py_ssize_t n, Py_ssize_t i, const char *w, Py_ssize_t wn)
{
    return i + wn <= n && memcmp(b + i, w, (size_t)wn) == 0;
}

/* One pass; 0 when the document was read to its end (S->status and flags say the rest). */
static int run(Scan *S, Py_ssize_t i)
{
    const uint8_t *b = S->b;
    const Py_ssize_t n = S->n;
    int esc, err = RS_INVALID_JSON;
    uint8_t c;

    i = skip_ws(b, n, i);
value:
    if (i >= n) return json_error(S, RS_INVALID_JSON);
    c = b[i];
    switch (c) {
    case '{':
    case '[':
        if (S->depth >= S->max_depth) return json_error(S, RS_TOO_DEEP);
        if (on_open(S, c == '{') < 0) return -1;
        i = skip_ws(b, n, i + 1);
        if (c == '{') {
            if (i < n && b[i] == '}') {
                i++;
                if (on_close(S) < 0) return -1;
                goto after;
            }
            goto key;
        }
        if (i < n && b[i] == ']') {
            i++;
            if (on_close(S) < 0) return -1;
            goto after;
        }
        goto value;
    case '"': {
        esc = 0;
        Py_ssize_t end = scan_string(b, n, i + 1, &esc, &err);
        if (end < 0) return json_error(S, err);
        if (on_scalar(S, V_STR, i + 1, end - i - 1, esc) < 0) return -1;
        i = end + 1;
        goto after;
    }
    case 't':
        if (!lit(b, n, i, "true", 4)) return json_error(S, RS_INVALID_JSON);
        if (on_scalar(S, V_TRUE, i, 4, 0) < 0) return -1;
        i += 4;
        goto after;
    case 'f':
        if (!lit(b, n, i, "false", 5)) return json_error(S, RS_INVALID_JSON);
        if (on_scalar(S, V_FALSE, i, 5, 0) < 0) return -1;
        i += 5;
        goto after;
    case 'n':
        if (!lit(b, n, i, "null", 4)) return json_error(S, RS_INVALID_JSON);
        if (on_scalar(S, V_NULL, i, 4, 0) < 0) return -1;
        i += 4;
        goto after;
    case 'N': /* NaN, Infinity and -Infinity: accepted, as Python's json does */
        if (!lit(b, n, i, "NaN", 3)) return json_error(S, RS_INVALID_JSON);
        if (on_scalar(S, V_NUM, i, 3, 1) < 0) return -1;
        i += 3;
        goto after;
    case 'I':
        if (!lit(b, n, i, "Infinity", 8)) return json_error(S, RS_INVALID_JSON);
        if (on_scalar(S, V_NUM, i, 8, 1) < 0) return -1;
        i += 8;
        goto after;
    default: {
        Py_ssize_t s = i;
        if (c == '-') {
            if (lit(b, n, i, "-Infinity", 9)) {
                if (on_scalar(S, V_NUM, i, 9, 1) < 0) return -1;
                i += 9;
                goto after;
            }
            i++;
        }
        if (i >= n || !is_digit(b[i])) return json_error(S, RS_INVALID_JSON);
        Py_ssize_t d0 = i;
        if (b[i] == '0') i++;
        else
            while (i < n && is_digit(b[i])) i++;
        Py_ssize_t int_digits = i - d0;
        int is_int = 1;
        if (i < n && b[i] == '.') {
            i++;
            if (i >= n || !is_digit(b[i])) return json_error(S, RS_INVALID_JSON);
            while (i < n && is_digit(b[i])) i++;
            is_int = 0;
        }
        if (i < n && (b[i] == 'e' || b[i] == 'E')) {
            i++;
            if (i < n && (b[i] == '+' || b[i] == '-')) i++;
            if (i >= n || !is_digit(b[i])) return json_error(S, RS_INVALID_JSON);
            while (i < n && is_digit(b[i])) i++;
            is_int = 0;
        }
        if (is_int && int_digits > MAX_INT_DIGITS) return unsure(S);
        /* esc marks a number that is not a plain integer literal */
        if (on_scalar(S, V_NUM, s, i - s, !is_int) < 0) return -1;
        goto after;
    }
    }
key:
    if (i >= n || b[i] != '"') return json_error(S, RS_INVALID_JSON);
    {
        esc = 0;
        Py_ssize_t end = scan_string(b, n, i + 1, &esc, &err);
        if (end < 0) return json_error(S, err);
        if (on_key(S, i + 1, end - i - 1, esc) < 0) return -1;
        i = skip_ws(b, n, end + 1);
        if (i >= n || b[i] != ':') return json_error(S, RS_INVALID_JSON);
        i = skip_ws(b, n, i + 1);
        goto value;
    }
after:
    if (S->depth == 0) {
        i = skip_ws(b, n, i);
        if (i != n) return json_error(S, RS_INVALID_JSON);
        return 0;
    }
    i = skip_ws(b, n, i);
    if (i >= n) return json_error(S, RS_INVALID_JSON);
    {
        Frame *top = &S->st[S->depth - 1];
        c = b[i];
        if (c == ',') {
            i = skip_ws(b, n, i + 1);
            if (top->is_obj) goto key;
            goto value;
        }
        if (c == (top->is_obj ? '}' : ']')) {
            i++;
            if (on_close(S) < 0) return -1;
            goto after;
        }
    }
    return json_error(S, RS_INVALID_JSON);
}

/* ---------------------------------------------------------------- results */

static int hexval(uint8_t c)
{
    if (c <= '9') return c - '0';
    return (c | 0x20) - 'a' + 10;
}

/* A JSON string's raw bytes (already validated) as a Python str, decoded as Python's json
 * does: escapes, and a \uD8xx\uDCxx pair as one code point, a lone surrogate kept as is. */
static PyObject *decode_str(const uint8_t *p, Py_ssize_t n, int esc)
{
    if (!esc) return PyUnicode_DecodeUTF8((const char *)p, n, "strict");
    Py_UCS4 *out = (Py_UCS4 *)PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Py_UCS4));
    if (!out) return PyErr_NoMemory();
    Py_ssize_t i = 0, k = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c == '\\') {
            uint8_t e = p[i + 1];
            if (e != 'u') {
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                out[k++] = (Py_UCS4)(unsigned char)to[strchr(from, e) - from];
                i += 2;
                continue;
            }
            Py_UCS4 u = (Py_UCS4)((hexval(p[i + 2]) << 12) | (hexval(p[i + 3]) << 8) |
                                  (hexval(p[i + 4]) << 4) | hexval(p[i + 5]));
            i += 6;
            if (u >= 0xD800 && u <= 0xDBFF && i + 6 <= n && p[i] == '\\' && p[i + 1] == 'u') {
                Py_UCS4 l = (Py_UCS4)((hexval(p[i + 2]) << 12) | (hexval(p[i + 3]) << 8) |
                                      (hexval(p[i + 4]) << 4) | hexval(p[i + 5]));
                if (l >= 0xDC00 && l <= 0xDFFF) {
                    u = 0x10000 + (((u - 0xD800) << 10) | (l - 0xDC00));
                    i += 6;
                }
            }
            out[k++] = u;
        }
        else if (c < 0x80) {
            out[k++] = c;
            i++;
        }
        else if (c < 0xE0) {
            out[k++] = ((Py_UCS4)(c & 0x1F) << 6) | (p[i + 1] & 0x3F);
            i += 2;
        }
        else if (c < 0xF0) {
            out[k++] = ((Py_UCS4)(c & 0x0F) << 12) | ((Py_UCS4)(p[i + 1] & 0x3F) << 6) |
                       (p[i + 2] & 0x3F);
            i += 3;
        }
        else {
            out[k++] = ((Py_UCS4)(c & 0x07) << 18) | ((Py_UCS4)(p[i + 1] & 0x3F) << 12) |
                       ((Py_UCS4)(p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
            i += 4;
        }
    }
    PyObject *s = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, k);
    PyMem_Free(out);
    return s;
}

/* The str of a node type counted in the histogram (raw bytes p[0:n], hash h): the plan's, if
 * it has seen the name before; else decoded, and kept while the plan has room. */
static PyObject *type_str(Plan *P, const uint8_t *p, Py_ssize_t n, uint32_t h)
{
    Interned *slot = NULL;
    if (!P->intern) P->intern = (Interned *)PyMem_Calloc(INTERN_CAP, sizeof(Interned));
    if (P->intern) {
        Py_ssize_t j = h & (INTERN_CAP - 1);
        for (;;) {
            Interned *e = &P->intern[j];
            if (!e->str) {
                slot = e;
                break;
            }
            if (e->hash == h && e->len == (uint32_t)n && memcmp(e->bytes, p, (size_t)n) == 0)
                return Py_NewRef(e->str);
            j = (j + 1) & (INTERN_CAP - 1);
        }
    }
    int esc = memchr(p, '\\', (size_t)n) != NULL;
    PyObject *t = decode_str(p, n, esc);
    if (!t || !slot || n > INTERN_MAX_LEN || (P->interned + 1) * 2 > INTERN_CAP) return t;
    char *copy = (char *)PyMem_Malloc((size_t)(n ? n : 1));
    if (!copy) return t; /* not kept: still the right str */
    memcpy(copy, p, (size_t)n);
    *slot = (Interned){h, (uint32_t)n, copy, Py_NewRef(t)};
    P->interned++;
    return t;
}

static PyObject *val_str(const Scan *S, const Val *v)
{
    if (v->kind != V_STR) Py_RETURN_NONE;
    return decode_str(S->b + v->off, v->len, v->esc);
}

/* An integer capture as a Python int; None when absent or null; NULL+*bad when other. */
static PyObject *val_int(const Scan *S, const Val *v, int *bad)
{
    if (v->kind == V_ABSENT || v->kind == V_NULL) Py_RETURN_NONE;
    if (v->kind != V_NUM || v->esc || v->len > 18) {
        *bad = 1;
        return NULL;
    }
    char buf[24];
    memcpy(buf, S->b + v->off, (size_t)v->len);
    buf[v->len] = 0;
    return PyLong_FromString(buf, NULL, 10);
}

static int add_count(PyObject *d, PyObject *key, int64_t n)
{
    PyObject *old = PyDict_GetItemWithError(d, key);
    if (!old && PyErr_Occurred()) return -1;
    PyObject *v = PyLong_FromLongLong(n + (old ? PyLong_AsLongLong(old) : 0));
    if (!v) return -1;
    int r = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    return r;
}

/* The span as (start, end); NULL with *bad when a value is not an integer. */
static PyObject *span_of(const Scan *S, int *bad)
{
    PyObject *a = NULL, *z = NULL;
    switch (S->fmt_kind) {
    case F_ESTREE:
    case F_BABEL:
        if (S->loc_is_obj && S->loc_start_is_obj && S->loc_end_is_obj) {
            a = val_int(S, &S->loc_start_line, bad);
            z = a ? val_int(S, &S->loc_end_line, bad) : NULL;
        }
        break;
    case F_PYAST:
        if (S->py_body_list && S->py_elems > 0 && S->py_first_dict) {
            a = val_int(S, &S->py_first_lineno, bad);
            if (a) {
                if (S->py_last_dict) z = val_int(S, &S->py_last_end_lineno, bad);
                else z = Py_NewRef(Py_None);
            }
        }
        break;
    case F_TREESITTER:
        if (S->ts_start_list && S->ts_end_list && S->ts_start_n && S->ts_end_n) {
            a = val_int(S, &S->ts_start_first, bad);
            z = a ? val_int(S, &S->ts_end_first, bad) : NULL;
            if (a && (a == Py_None || z == Py_None)) {
                *bad = 1; /* int(None) */
                Py_CLEAR(a);
                Py_CLEAR(z);
            }
            if (a && z) {
                PyObject *one = PyLong_FromLong(1);
                PyObject *a1 = PyNumber_Add(a, one), *z1 = PyNumber_Add(z, one);
                Py_DECREF(one);
                Py_DECREF(a);
                Py_DECREF(z);
                a = a1;
                z = z1;
            }
        }
        break;
    default:
        break;
    }
    if (*bad) {
        Py_XDECREF(a);
        Py_XDECREF(z);
        return NULL;
    }
    if (!a) a = Py_NewRef(Py_None);
    if (!z) z = Py_NewRef(Py_None);
    if (!a || !z) {
        Py_XDECREF(a);
        Py_XDECREF(z);
        return NULL;
    }
    PyObject *t = PyTuple_Pack(2, a, z);
    Py_DECREF(a);
    Py_DECREF(z);
    return t;
}

/* ---------------------------------------------------------------- figures off the histogram */

/* The format's counts (what AstFormat.counts reads off the histogram with the format's roles,
 * before AstFormat.adjusted), the node count and the stored histogram (what
 * orjson.dumps(hist, option=OPT_SORT_KEYS) writes), done here, where the Python side of a 4 KB
 * file spent ~3 us on them (a dozen dict lookups and an orjson call). The histogram is the dict
 * itself, after names that decode alike were merged. */
typedef struct {
    const char *s;
    Py_ssize_t n;
    int64_t count;
} Named;

static int named_cmp(const void *a, const void *b)
{
    /* orjson sorts keys as Rust compares str: byte-wise UTF-8, which is code point order */
    const Named *x = (const Named *)a, *y = (const Named *)b;
    Py_ssize_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, (size_t)n);
    if (c) return c;
    return (x->n > y->n) - (x->n < y->n);
}

/* A key as orjson writes it: '"' and '\\' escaped, control characters as \b \t \n \f \r or
 * \u00xx (lowercase), everything else (DEL, non-ASCII UTF-8, '/') as it is. */
static char *json_key(char *o, const char *s, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\t': *o++ = 't'; break;
        case '\n': *o++ = 'n'; break;
        case '\f': *o++ = 'f'; break;
        case '\r': *o++ = 'r'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    return o;
}

/* Sets counts[4] (before the format's adjustments), *nodes and *json (the sorted histogram as
 * orjson writes it; None when a name cannot be written as UTF-8, a lone surrogate: the caller
 * then asks orjson, which says why). -1 with an exception on failure. */
static int hist_figures(PyObject *hist, PyObject *roles, int64_t counts[4], int64_t *nodes,
                        PyObject **json)
{
    Py_ssize_t nh = PyDict_GET_SIZE(hist), pos = 0, j = 0;
    Named *items = (Named *)PyMem_Malloc((size_t)(nh ? nh : 1) * sizeof(Named));
    if (!items) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *k, *v;
    int writable = 1;
    size_t size = 2;
    *nodes = 0;
    while (PyDict_Next(hist, &pos, &k, &v)) {
        int64_t c = (int64_t)PyLong_AsLongLong(v);
        if (c == -1 && PyErr_Occurred()) goto fail;
        *nodes += c;
        if (roles) {
            PyObject *m = PyDict_GetItemWithError(roles, k);
            if (m) {
                long bits = PyLong_AsLong(m);
                if (bits == -1 && PyErr_Occurred()) goto fail;
                for (int i = 0; i < 4; i++)
                    if (bits & (1L << i)) counts[i] += c;
            }
            else if (PyErr_Occurred()) goto fail;
        }
        if (!writable) continue;
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(k, &n);
        if (!s) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) goto fail;
            PyErr_Clear();
            writable = 0;
            continue;
        }
        items[j++] = (Named){s, n, c};
        size += (size_t)n * 6 + 2 + 1 + 20 + 1; /* "key" : count , */
    }
    if (!writable) {
        *json = Py_NewRef(Py_None);
        PyMem_Free(items);
        return 0;
    }
    qsort(items, (size_t)j, sizeof(Named), named_cmp);
    char *buf = (char *)PyMem_Malloc(size), *o = buf;
    if (!buf) {
        PyErr_NoMemory();
        goto fail;
    }
    *o++ = '{';
    for (Py_ssize_t i = 0; i < j; i++) {
        if (i) *o++ = ',';
        o = json_key(o, items[i].s, items[i].n);
        *o++ = ':';
        o += sprintf(o, "%lld", (long long)items[i].count);
    }
    *o++ = '}';
    *json = PyBytes_FromStringAndSize(buf, o - buf);
    PyMem_Free(buf);
    PyMem_Free(items);
    return *json ? 0 : -1;
fail:
    PyMem_Free(items);
    return -1;
}

static PyObject *result_ok(Scan *S)
{
    int bad = 0;
    PyObject *span = span_of(S, &bad);
    if (!span) {
        if (bad && !PyErr_Occurred()) return Py_BuildValue("(is)", ST_UNSURE, "span");
        return NULL;
    }
    PyObject *hist = PyDict_New(), *implicit = NULL, *logical = NULL, *env = NULL;
    if (!hist) goto fail;
    if (S->clang_notes) {
        implicit = PyDict_New();
        logical = PyDict_New();
        if (!implicit || !logical) goto fail;
    }
    Plan *P = (Plan *)S->plan; /* its names kept, with the GIL held (type_str) */
    for (Py_ssize_t k = 0; k < S->tcap; k++) {
        Entry *e = &S->tab[k];
        if (!e->count) continue;
        PyObject *t = type_str(P, S->b + e->off, e->len, e->hash);
        if (!t) goto fail;
        int r = add_count(hist, t, e->count);
        if (!r && e->implicit) r = add_count(implicit, t, e->implicit);
        if (!r && e->logical) r = add_count(logical, t, e->logical);
        Py_DECREF(t);
        if (r) goto fail;
    }
    if (S->null_nodes) {
        PyObject *t = PyUnicode_FromString("<null>");
        if (!t) goto fail;
        int r = add_count(hist, t, S->null_nodes);
        Py_DECREF(t);
        if (r) goto fail;
    }
    if (S->env) {
        PyObject *lang = val_str(S, &S->env_language);
        PyObject *pn = S->parser_is_obj == 1 ? val_str(S, &S->parser_name) : Py_NewRef(Py_None);
        PyObject *pv =
            S->parser_is_obj == 1 ? val_str(S, &S->parser_version) : Py_NewRef(Py_None);
        PyObject *sp = S->source_is_obj == 1 ? val_str(S, &S->source_path) : Py_NewRef(Py_None);
        if (lang && pn && pv && sp) env = PyTuple_Pack(4, lang, pn, pv, sp);
        Py_XDECREF(lang);
        Py_XDECREF(pn);
        Py_XDECREF(pv);
        Py_XDECREF(sp);
        if (!env) goto fail;
    }
    else {
        env = Py_NewRef(Py_None);
    }
    int64_t counts[4] = {0, 0, 0, 0}, nodes = 0;
    PyObject *json = NULL;
    if (hist_figures(hist, P->formats[S->fmt].roles, counts, &nodes, &json) < 0) goto fail;
    PyObject *res = Py_BuildValue(
        "(iiNiNNNNNL(LLLL)N)", ST_OK, S->fmt,
        PyUnicode_FromStringAndSize(S->plan->rkeys[S->tkey].s, S->plan->rkeys[S->tkey].n),
        (int)S->max_nd, hist, span, env, implicit ? implicit : Py_NewRef(Py_None),
        logical ? logical : Py_NewRef(Py_None), (long long)nodes, (long long)counts[0],
        (long long)counts[1], (long long)counts[2], (long long)counts[3], json);
    return res;
fail:
    Py_XDECREF(hist);
    Py_XDECREF(implicit);
    Py_XDECREF(logical);
    Py_XDECREF(env);
    Py_XDECREF(span);
    return NULL;
}

static void scan_free(Scan *S)
{
    free(S->st);
    free(S->keys);
    free(S->tab);
    S->st = NULL;
    S->keys = NULL;
    S->tab = NULL;
}

static void scan_reset(Scan *S, const Plan *P, const uint8_t *b, Py_ssize_t n,
                       Py_ssize_t max_depth, int forced_env, int forced_fmt, int forced_tkey)
{
    Frame *st = S->st;
    Key *keys = S->keys;
    Entry *tab = S->tab;
    Py_ssize_t cap = S->cap, kcap = S->kcap, tcap = S->tcap;
    memset(S, 0, sizeof(*S));
    S->st = st;
    S->cap = cap;
    S->keys = keys;
    S->kcap = kcap;
    S->tab = tab;
    S->tcap = tcap;
    if (tab) memset(tab, 0, (size_t)tcap * sizeof(Entry));
    S->plan = P;
    S->b = b;
    S->n = n;
    S->max_depth = max_depth;
    S->forced_env = forced_env;
    S->forced_fmt = forced_fmt;
    S->forced_tkey = forced_tkey;
    S->env = -1;
    S->fmt = -1;
    S->tkey = 0;
}

static inline int py_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0b || c == 0x0c;
}

/* ---------------------------------------------------------------- the plan */

static void plan_free(PyObject *capsule)
{
    Plan *P = (Plan *)PyCapsule_GetPointer(capsule, "snake_pipe.scanner.plan");
    if (!P) return;
    for (int f = 0; f < P->nformats; f++) {
        PyMem_Free(P->formats[f].root_types);
        Py_XDECREF(P->formats[f].roles);
    }
    if (P->intern) {
        for (Py_ssize_t k = 0; k < INTERN_CAP; k++) {
            if (!P->intern[k].str) continue;
            Py_DECREF(P->intern[k].str);
            PyMem_Free(P->intern[k].bytes);
        }
        PyMem_Free(P->intern);
    }
    PyMem_Free(P->arena);
    PyMem_Free(P);
}

static int copy_str(PyObject *o, Str *out, char **arena, Py_ssize_t *used, Py_ssize_t cap)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (!s) return -1;
    if (*used + n + 1 > cap) {
        PyErr_SetString(PyExc_ValueError, "plan strings too long");
        return -1;
    }
    memcpy(*arena + *used, s, (size_t)n + 1);
    out->s = *arena + *used;
    out->n = n;
    *used += n + 1;
    return 0;
}

/* make_plan(root_keys: tuple[str, ...], formats: tuple[tuple[int, int, int,
 * tuple[str, ...] | None, dict[str, int] | None], ...]) -> capsule. root_keys must start with
 * the fixed keys; a format's dict maps a node type to the bits (1: functions, 2: classes,
 * 4: imports, 8: branches) of the counts a node of that type adds to. */
static PyObject *make_plan(PyObject *self, PyObject *args)
{
    PyObject *rkeys, *formats;
    if (!PyArg_ParseTuple(args, "O!O!", &PyTuple_Type, &rkeys, &PyTuple_Type, &formats))
        return NULL;
    Py_ssize_t nk = PyTuple_GET_SIZE(rkeys), nf = PyTuple_GET_SIZE(formats);
    if (nk < K_FIXED || nk > MAX_RKEYS || nf > MAX_FORMATS) {
        PyErr_SetString(PyExc_ValueError, "too many keys or formats for the scanner");
        return NULL;
    }
    Plan *P = (Plan *)PyMem_Calloc(1, sizeof(Plan));
    if (!P) return PyErr_NoMemory();
    Py_ssize_t cap = 1 << 16, used = 0;
    P->arena = (char *)PyMem_Malloc((size_t)cap);
    PyObject *capsule = NULL;
    if (!P->arena) {
        PyMem_Free(P);
        return PyErr_NoMemory();
    }
    capsule = PyCapsule_New(P, "snake_pipe.scanner.plan", plan_free);
    if (!capsule) {
        PyMem_Free(P->arena);
        PyMem_Free(P);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < nk; k++) {
        if (copy_str(PyTuple_GET_ITEM(rkeys, k), &P->rkeys[k], &P->arena, &used, cap) < 0)
            goto fail;
        if (k < K_FIXED && strcmp(P->rkeys[k].s, FIXED_KEYS[k]) != 0) {
            PyErr_SetString(PyExc_ValueError, "root keys must start with the fixed keys");
            goto fail;
        }
    }
    P->nrkeys = (int)nk;
    for (Py_ssize_t f = 0; f < nf; f++) {
        PyObject *spec = PyTuple_GET_ITEM(formats, f), *types, *roles;
        FormatSpec *F = &P->formats[f];
        if (!PyArg_ParseTuple(spec, "iiiOO", &F->kind, &F->type_key, &F->children_key, &types,
                              &roles))
            goto fail;
        P->nformats = (int)f + 1;
        if (roles != Py_None) {
            if (!PyDict_CheckExact(roles)) {
                PyErr_SetString(PyExc_TypeError, "roles must be a dict");
                goto fail;
            }
            F->roles = Py_NewRef(roles);
        }
        if (F->kind < F_BABEL || F->kind > F_OPAQUE || F->type_key >= nk ||
            F->children_key >= nk) {
            PyErr_SetString(PyExc_ValueError, "bad format spec");
            goto fail;
        }
        if (types != Py_None) {
            if (!PyTuple_Check(types)) {
                PyErr_SetString(PyExc_TypeError, "root types must be a tuple");
                goto fail;
            }
            Py_ssize_t nt = PyTuple_GET_SIZE(types);
            F->root_types = (Str *)PyMem_Calloc((size_t)(nt ? nt : 1), sizeof(Str));
            if (!F->root_types) {
                PyErr_NoMemory();
                goto fail;
            }
            F->nroot_types = (int)nt;
            for (Py_ssize_t t = 0; t < nt; t++)
                if (copy_str(PyTuple_GET_ITEM(types, t), &F->root_types[t], &P->arena, &used,
                             cap) < 0)
                    goto fail;
            if (nt == 0) F->nroot_types = -1; /* an empty set matches nothing */
        }
    }
    return capsule;
fail:
    Py_DECREF(capsule);
    return NULL;
}

/* scan(data: bytes, plan, max_depth: int) -> tuple
 *   (0, format_index, type_key, max_depth, histogram, (span_start, span_end),
 *    envelope (language, parser_name, parser_version, source_path) | None,
 *    implicit_by_type | None, logical_by_type | None, node_count,
 *    (functions, classes, imports, branches) before the format's adjustments,
 *    the histogram as orjson writes it with sorted keys | None)
 *   (1, reason)   (2, why) */
static PyObject *scan(PyObject *self, PyObject *args)
{
    Py_buffer view;
    PyObject *capsule;
    Py_ssize_t max_depth;
    if (!PyArg_ParseTuple(args, "y*On", &view, &capsule, &max_depth)) return NULL;
    Plan *P = (Plan *)PyCapsule_GetPointer(capsule, "snake_pipe.scanner.plan");
    if (!P) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const uint8_t *b = (const uint8_t *)view.buf;
    Py_ssize_t n = view.len, start = 0;
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) start = 3;
    Py_ssize_t k = start;
    while (k < n && py_space(b[k])) k++;
    if (k == n) {
        PyBuffer_Release(&view);
        return Py_BuildValue("(is)", ST_REJECT, REASONS[RS_EMPTY]);
    }
    Scan S;
    memset(&S, 0, sizeof(S));
    int forced_env = -1, forced_fmt = -9, forced_tkey = -1;
    PyObject *res = NULL;
    for (int pass = 0; pass < 4; pass++) {
        scan_reset(&S, P, b + start, n - start, max_depth, forced_env, forced_fmt, forced_tkey);
        int r;
        Py_BEGIN_ALLOW_THREADS
        r = run(&S, 0);
        Py_END_ALLOW_THREADS
        if (r < 0 && S.status == ST_RESCAN) {
            forced_env = S.forced_env;
            forced_fmt = S.forced_fmt;
            forced_tkey = S.forced_tkey;
            continue;
        }
        if (r < 0) {
            if (S.status == ST_NOMEM) res = PyErr_NoMemory();
            else if (S.status == ST_REJECT)
                res = Py_BuildValue("(is)", ST_REJECT, REASONS[S.reason]);
            else
                res = Py_BuildValue("(is)", ST_UNSURE, "scan");
            break;
        }
        if (S.not_object) res = Py_BuildValue("(is)", ST_REJECT, REASONS[RS_NOT_OBJECT]);
        else if (S.unknown_format)
            res = Py_BuildValue("(is)", ST_REJECT, REASONS[RS_UNKNOWN_FORMAT]);
        else if (S.schema)
            res = Py_BuildValue("(is)", ST_REJECT, REASONS[RS_SCHEMA]);
        else
            res = result_ok(&S);
        break;
    }
    if (!res && !PyErr_Occurred()) res = Py_BuildValue("(is)", ST_UNSURE, "passes");
    scan_free(&S);
    PyBuffer_Release(&view);
    return res;
}

/* read_beneath(root_fd, path, max_bytes): a file beneath a folder, read whole, for analyzer.py.
 *
 * One openat2() call opens `path` (relative, '/'-separated) beneath the folder `root_fd`,
 * refusing every symlink on the way (RESOLVE_NO_SYMLINKS: the folders and the file itself)
 * and every way out of the folder (RESOLVE_BENEATH). Then fstat, a read of a regular file of
 * at most max_bytes (one byte more is asked for, to see a file that grew), fstat again, close:
 * what beneath.open_beneath + Analyzer.read_file do in Python with six system calls and a
 * dozen Python calls, 5-6 us of a 4 KB file's ~30.
 *
 * Returns None when the caller's own open must decide: the path has a "", "." or ".."
 * component, the open failed for any reason (a symlink on the path, a folder replaced, a file
 * gone, no permission...), or this kernel has no openat2 (before Linux 5.6, or filtered out). Raises OSError when fstat or read fails
 * after the open. Otherwise (data, st_mode, size, mtime_ns, dev, ino, size_after,
 * mtime_ns_after), where data is None when the file is not a regular file or is larger than
 * max_bytes (it is not read). */
#if defined(__linux__)
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct sp_open_how {
    uint64_t flags, mode, resolve;
};
enum { SP_RESOLVE_NO_MAGICLINKS = 0x02, SP_RESOLVE_NO_SYMLINKS = 0x04, SP_RESOLVE_BENEATH = 0x08 };
static int openat2_missing = 0;

static long long mtime_ns(const struct stat *st)
{
    return (long long)st->st_mtim.tv_sec * 1000000000LL + (long long)st->st_mtim.tv_nsec;
}

static PyObject *read_beneath(PyObject *self, PyObject *args)
{
    int root_fd;
    PyObject *path = NULL;
    Py_ssize_t max_bytes;
    if (!PyArg_ParseTuple(args, "iO&n", &root_fd, PyUnicode_FSConverter, &path, &max_bytes))
        return NULL;
    /* "", "." or ".." as a component (a leading or doubled '/' included): the walk refuses
     * such a path, whatever RESOLVE_BENEATH would say of it. */
    const char *c = PyBytes_AS_STRING(path), *end = c + PyBytes_GET_SIZE(path);
    int odd = openat2_missing;
    for (const char *part = c; !odd && part <= end;) {
        const char *slash = memchr(part, '/', (size_t)(end - part));
        size_t len = (size_t)((slash ? slash : end) - part);
        odd = len == 0 || (part[0] == '.' && (len == 1 || (len == 2 && part[1] == '.')));
        part += len + 1;
    }
    if (odd) {
        Py_DECREF(path);
        Py_RETURN_NONE;
    }
    struct sp_open_how how = {
        (uint64_t)(O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK), 0,
        SP_RESOLVE_BENEATH | SP_RESOLVE_NO_SYMLINKS | SP_RESOLVE_NO_MAGICLINKS};
    int fd, err = 0;
    Py_BEGIN_ALLOW_THREADS
    do {
        fd = (int)syscall(SYS_openat2, root_fd, PyBytes_AS_STRING(path), &how, sizeof how);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) err = errno;
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (fd < 0) {
        if (err == ENOSYS || err == E2BIG) openat2_missing = 1;
        Py_RETURN_NONE;
    }
    struct stat before, after;
    PyObject *data = NULL;
    Py_ssize_t got = 0;
    if (fstat(fd, &before) < 0) goto os_error;
    after = before;
    if (S_ISREG(before.st_mode) && before.st_size <= max_bytes) {
        Py_ssize_t want = (Py_ssize_t)before.st_size + 1;
        data = PyBytes_FromStringAndSize(NULL, want);
        if (!data) goto fail;
        char *buf = PyBytes_AS_STRING(data);
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS
        /* One read in the usual case (the file's size, or one byte more if it grew); more
         * only after a short read: past 2 GiB, network file systems. */
        while (got < want) {
            ssize_t r = read(fd, buf + got, (size_t)(want - got));
            if (r < 0) {
                if (errno == EINTR) continue;
                bad = errno;
                break;
            }
            if (r == 0) break;
            got += r;
            if (got >= want - 1) break;
        }
        if (!bad && fstat(fd, &after) < 0) bad = errno;
        Py_END_ALLOW_THREADS
        if (bad) {
            errno = bad;
            goto os_error;
        }
        if (_PyBytes_Resize(&data, got) < 0) goto fail;
    }
    close(fd);
    return Py_BuildValue(
        "(NiLLKKLL)", data ? data : Py_NewRef(Py_None), (int)before.st_mode,
        (long long)before.st_size, mtime_ns(&before), (unsigned long long)before.st_dev,
        (unsigned long long)before.st_ino, (long long)after.st_size, mtime_ns(&after));
os_error:
    PyErr_SetFromErrno(PyExc_OSError);
fail:
    Py_XDECREF(data);
    close(fd);
    return NULL;
}
#endif

static PyMethodDef methods[] = {
    {"make_plan", make_plan, METH_VARARGS, "Compile the formats' descriptions for scan()."},
    {"scan", scan, METH_VARARGS, "Validate and measure one AST JSON document in one pass."},
#if defined(__linux__)
    {"read_beneath", read_beneath, METH_VARARGS,
     "Open a file beneath a folder without any symlink (openat2), fstat, read whole, fstat."},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scanner",
    "snake-pipe's native one-pass scanner (see snake_pipe_core/analysis/native.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__scanner(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddStringConstant(m, "SOURCE_SHA256", SCANNER_SOURCE_SHA) < 0 ||
        PyModule_AddIntConstant(m, "OK", ST_OK) < 0 ||
        PyModule_AddIntConstant(m, "REJECT", ST_REJECT) < 0 ||
        PyModule_AddIntConstant(m, "UNSURE", ST_UNSURE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
