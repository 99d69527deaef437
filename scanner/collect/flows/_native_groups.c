/*
 * Flow groups in C: the optional compiled core of scanner/collect/flows/conn_fold.py.
 *
 * Why: a city's day of Zeek conn logs is a million lines; in pure Python, splitting, checking
 * and adding them up costs about five times a bare csv read (issue 16 asks for at most three).
 * This module does the same work as conn_fold._Groups (the pure-Python twin that runs when this
 * module is not built) plus `scan`, which checks and adds up a whole block of plain conn.log lines
 * in one call.
 *
 * Rules kept here, because the input is hostile:
 *  - `scan` reads only inside the bytes object it is given, and accepts only what the pure-Python
 *    column path accepts, with the same values (IPv4 dotted quads without leading zeros, IPv6
 *    as canonical_ip's fast path writes it, ports of 1-5 digits up to 65535, byte counts of 1-19
 *    digits, times of digits and one dot read by CPython's own float parser, a known transport,
 *    every line exactly `width` fields, ASCII, no header line, no line longer than MAX_LINE). Anything else returns -1 *before* any state
 *    changes, and the caller reads the block its own way (the reader's rules and error messages).
 *  - Sums are 128-bit and checked; every table is sized by what it holds, cleared with the groups.
 *  - Table keys are hashed with the interpreter's keyed SipHash: words that come from the file
 *    cannot be chosen to collide (a flooded table would take quadratic time).
 *  - No Python object's address is used as a key unless this module holds a reference to it.
 *  - Python code a call may run (a key's __hash__, a label callback) cannot re-enter the store
 *    while it is in the middle of a change (RuntimeError).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_LINE (64 * 1024)  /* inputs.MAX_LINE */
#define MAX_WIDTH 1024        /* fields per line this module splits (Zeek's reader allows 512) */
#define MAX_SAMPLES 16
#define MAX_KINDS 16          /* distinct (transport name, kind) pairs a store keeps apart */
#define MAX_TRANSPORTS 16
#define MAX_HEADS 262144      /* remembered /24 labels, as conn_fold._MAX_CACHE */
#define MAX_RAW (1 << 20)     /* remembered record keys before the memory is emptied (<= ~120 MB) */
#define NO_PORT 65536u        /* ICMP: Zeek's port fields hold type and code */

typedef unsigned __int128 u128;

/* ---- open-addressing tables keyed by a few machine words ------------------------------------ */

typedef struct {
    uint64_t w[5];
} Key;

typedef struct {
    Key key;
    PyObject *ref;     /* a reference the key depends on (a label object), or NULL */
    Py_ssize_t value;  /* slot number; -1: empty entry */
} Entry;

typedef struct {
    Entry *entries;
    size_t mask;       /* capacity - 1 (capacity a power of two), 0 when not allocated */
    size_t used;
} Table;

/* Keys hold words straight from the file (a source IPv6 address): an unkeyed hash would let a
 * crafted log put every key into one bucket (quadratic time). This is the interpreter's own keyed
 * hash (SipHash with the per-process secret), as Python's dict uses for str keys. */
static uint64_t mix(const Key *k) {
#if PY_VERSION_HEX >= 0x030E0000
    return (uint64_t)Py_HashBuffer(k, sizeof(Key));
#else
    return (uint64_t)_Py_HashBytes(k, sizeof(Key));
#endif
}

static void table_clear(Table *t) {
    if (t->entries != NULL) {
        for (size_t i = 0; i <= t->mask; i++) {
            if (t->entries[i].value >= 0) {
                Py_CLEAR(t->entries[i].ref);
            }
        }
        PyMem_Free(t->entries);
    }
    t->entries = NULL;
    t->mask = 0;
    t->used = 0;
}

static Entry *table_find(Table *t, const Key *k) {
    if (t->entries == NULL) {
        return NULL;
    }
    size_t i = (size_t)mix(k) & t->mask;
    for (;;) {
        Entry *e = &t->entries[i];
        if (e->value < 0) {
            return NULL;
        }
        if (memcmp(&e->key, k, sizeof(Key)) == 0) {
            return e;
        }
        i = (i + 1) & t->mask;
    }
}

static int table_grow(Table *t) {
    size_t capacity = t->entries == NULL ? 1024 : (t->mask + 1) * 2;
    if (capacity > ((size_t)PY_SSIZE_T_MAX) / sizeof(Entry)) {
        PyErr_NoMemory();
        return -1;
    }
    Entry *fresh = PyMem_Malloc(capacity * sizeof(Entry));
    if (fresh == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < capacity; i++) {
        fresh[i].value = -1;
        fresh[i].ref = NULL;
    }
    if (t->entries != NULL) {
        for (size_t i = 0; i <= t->mask; i++) {
            Entry *e = &t->entries[i];
            if (e->value >= 0) {
                size_t j = (size_t)mix(&e->key) & (capacity - 1);
                while (fresh[j].value >= 0) {
                    j = (j + 1) & (capacity - 1);
                }
                fresh[j] = *e;
            }
        }
        PyMem_Free(t->entries);
    }
    t->entries = fresh;
    t->mask = capacity - 1;
    return 0;
}

/* Insert a key known to be absent; `ref` (may be NULL) gains a reference held by the table. */
static int table_put(Table *t, const Key *k, PyObject *ref, Py_ssize_t value) {
    if (t->entries == NULL || (t->used + 1) * 2 > t->mask + 1) {
        if (table_grow(t) < 0) {
            return -1;
        }
    }
    size_t i = (size_t)mix(k) & t->mask;
    while (t->entries[i].value >= 0) {
        i = (i + 1) & t->mask;
    }
    Entry *e = &t->entries[i];
    e->key = *k;
    e->value = value;
    Py_XINCREF(ref);
    e->ref = ref;
    t->used++;
    return 0;
}

/* ---- the groups ------------------------------------------------------------------------------- */

typedef struct {
    uint64_t connections;
    u128 bytes, out;
    double first, last;
    unsigned char has_bytes, has_out, more, nsamples;   /* samples: in Groups.sample_store */
} Slot;

typedef struct {
    PyObject_HEAD
    PyObject *index;   /* dict: key tuple -> slot number (int) */
    PyObject *keys;    /* list: slot number -> key tuple */
    Slot *slots;
    PyObject **sample_store;  /* `samples` per slot: slot i's are at i * samples */
    Py_ssize_t nslots, capacity;
    int samples;       /* sample addresses kept per slot (0: none) */
    int busy;          /* inside a dict or list call that may run Python code: no re-entry */
    PyObject *kinds[MAX_KINDS][2];  /* (name, kind) pairs seen, each one number in `raw` keys */
    int nkinds;
    Table raw;         /* (source, destination or label, port, transport) as numbers -> slot */
    Table heads;       /* IPv4 /24 -> its label (ref), or Py_None: addresses differ */
    PyObject *heads_of; /* the heads mapping that `heads` remembers, or NULL */
} Groups;

static PyObject **samples_of(Groups *g, Py_ssize_t slot) {
    return g->sample_store + slot * g->samples;
}

static void slots_clear(Groups *g) {
    for (Py_ssize_t i = 0; i < g->nslots; i++) {
        for (int j = 0; j < g->slots[i].nsamples; j++) {
            Py_CLEAR(samples_of(g, i)[j]);
        }
    }
    g->nslots = 0;
}

static void groups_reset(Groups *g) {
    slots_clear(g);
    table_clear(&g->raw);
    for (int i = 0; i < g->nkinds; i++) {
        Py_CLEAR(g->kinds[i][0]);
        Py_CLEAR(g->kinds[i][1]);
    }
    g->nkinds = 0;
    table_clear(&g->heads);
    Py_CLEAR(g->heads_of);
    if (g->index != NULL) {
        PyDict_Clear(g->index);
    }
    if (g->keys != NULL) {
        Py_ssize_t n = PyList_GET_SIZE(g->keys);
        if (n > 0) {
            PyList_SetSlice(g->keys, 0, n, NULL);
        }
    }
}

static int groups_init(Groups *g, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"samples", NULL};
    int samples = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|i", kwlist, &samples)) {
        return -1;
    }
    if (samples < 0 || samples > MAX_SAMPLES) {
        PyErr_Format(PyExc_ValueError, "samples must be 0-%d", MAX_SAMPLES);
        return -1;
    }
    if (g->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Groups used re-entrantly");
        return -1;
    }
    groups_reset(g);
    PyMem_Free(g->slots);
    PyMem_Free(g->sample_store);
    g->slots = NULL;
    g->sample_store = NULL;
    g->capacity = 0;
    g->samples = samples;
    if (g->index == NULL && (g->index = PyDict_New()) == NULL) {
        return -1;
    }
    if (g->keys == NULL && (g->keys = PyList_New(0)) == NULL) {
        return -1;
    }
    return 0;
}

static void groups_dealloc(Groups *g) {
    PyObject_GC_UnTrack(g);
    groups_reset(g);
    Py_CLEAR(g->index);
    Py_CLEAR(g->keys);
    PyMem_Free(g->slots);
    PyMem_Free(g->sample_store);
    Py_TYPE(g)->tp_free((PyObject *)g);
}

static PyObject *groups_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Groups *g = (Groups *)type->tp_alloc(type, 0);   /* zeroed */
    if (g == NULL) {
        return NULL;
    }
    g->index = PyDict_New();
    g->keys = PyList_New(0);
    if (g->index == NULL || g->keys == NULL) {
        Py_DECREF(g);
        return NULL;
    }
    return (PyObject *)g;
}

/* A method may run: the object is whole and no dict or list call of it is under way. */
static int usable(Groups *g) {
    if (g->index == NULL || g->keys == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Groups is not initialised");
        return 0;
    }
    if (g->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Groups used re-entrantly (from a key's __hash__ or __eq__)");
        return 0;
    }
    return 1;
}

static int groups_traverse(Groups *g, visitproc visit, void *arg) {
    Py_VISIT(g->index);
    Py_VISIT(g->keys);
    Py_VISIT(g->heads_of);
    return 0;
}

static int groups_gc_clear(Groups *g) {
    groups_reset(g);
    Py_CLEAR(g->index);
    Py_CLEAR(g->keys);
    return 0;
}

static Py_ssize_t groups_len(Groups *g) {
    return g->nslots;
}

/* The slot of `key` (a new one, at the end, when the key is new). */
static Py_ssize_t slot_of(Groups *g, PyObject *key) {
    g->busy = 1;   /* hashing and comparing a key may run Python code */
    PyObject *found = PyDict_GetItemWithError(g->index, key);
    g->busy = 0;
    if (found != NULL) {
        return PyLong_AsSsize_t(found);
    }
    if (PyErr_Occurred()) {
        return -1;
    }
    if (g->nslots == g->capacity) {
        Py_ssize_t capacity = g->capacity ? g->capacity * 2 : 256;
        if ((size_t)capacity > ((size_t)PY_SSIZE_T_MAX) / sizeof(Slot)) {
            PyErr_NoMemory();
            return -1;
        }
        Slot *grown = PyMem_Realloc(g->slots, (size_t)capacity * sizeof(Slot));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        g->slots = grown;
        if (g->samples) {
            PyObject **store = PyMem_Realloc(g->sample_store, (size_t)capacity * (size_t)g->samples * sizeof(PyObject *));
            if (store == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            g->sample_store = store;
        }
        g->capacity = capacity;
    }
    Py_ssize_t slot = g->nslots;
    PyObject *number = PyLong_FromSsize_t(slot);
    if (number == NULL) {
        return -1;
    }
    g->busy = 1;
    int failed = PyDict_SetItem(g->index, key, number) < 0 || PyList_Append(g->keys, key) < 0;
    g->busy = 0;
    Py_DECREF(number);
    if (failed) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        g->busy = 1;
        if (PyDict_DelItem(g->index, key) < 0) {  /* keep index and keys in step */
            PyErr_Clear();
        }
        g->busy = 0;
        PyErr_Restore(type, value, traceback);
        return -1;
    }
    Slot *s = &g->slots[slot];
    memset(s, 0, sizeof(Slot));
    s->first = INFINITY;
    s->last = -INFINITY;
    g->nslots++;
    return slot;
}

static int add_u128(u128 *sum, u128 value) {
    if (__builtin_add_overflow(*sum, value, sum)) {
        PyErr_SetString(PyExc_OverflowError, "byte count sum beyond 128 bits");
        return -1;
    }
    return 0;
}

/* A non-negative Python int as 128 bits. */
static int as_u128(PyObject *value, u128 *out) {
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "a byte count must be an int");
        return -1;
    }
    PyObject *zero = PyLong_FromLong(0);
    if (zero == NULL) {
        return -1;
    }
    int negative = PyObject_RichCompareBool(value, zero, Py_LT);
    Py_DECREF(zero);
    if (negative != 0) {
        if (negative > 0) {
            PyErr_SetString(PyExc_ValueError, "a byte count must not be negative");
        }
        return -1;
    }
    unsigned long long lo = PyLong_AsUnsignedLongLongMask(value);
    if (lo == (unsigned long long)-1 && PyErr_Occurred()) {
        return -1;
    }
    PyObject *shift = PyLong_FromLong(64);
    if (shift == NULL) {
        return -1;
    }
    PyObject *high = PyNumber_Rshift(value, shift);
    Py_DECREF(shift);
    if (high == NULL) {
        return -1;
    }
    unsigned long long hi = PyLong_AsUnsignedLongLong(high);
    Py_DECREF(high);
    if (hi == (unsigned long long)-1 && PyErr_Occurred()) {
        return -1;
    }
    *out = ((u128)hi << 64) | lo;
    return 0;
}

static PyObject *from_u128(u128 value) {
    unsigned long long hi = (unsigned long long)(value >> 64), lo = (unsigned long long)value;
    if (hi == 0) {
        return PyLong_FromUnsignedLongLong(lo);
    }
    PyObject *high = PyLong_FromUnsignedLongLong(hi), *low = PyLong_FromUnsignedLongLong(lo);
    PyObject *shift = PyLong_FromLong(64), *moved = NULL, *result = NULL;
    if (high != NULL && low != NULL && shift != NULL && (moved = PyNumber_Lshift(high, shift)) != NULL) {
        result = PyNumber_Or(moved, low);
    }
    Py_XDECREF(high);
    Py_XDECREF(low);
    Py_XDECREF(shift);
    Py_XDECREF(moved);
    return result;
}

/* Keep `ip` as a sample of the slot: the first `samples` distinct addresses, then `more`. */
static int sample_obj(Groups *g, Slot *s, PyObject *ip) {
    if (s->more || g->samples == 0) {
        return 0;
    }
    PyObject **kept = samples_of(g, s - g->slots);
    for (int j = 0; j < s->nsamples; j++) {
        int same = PyObject_RichCompareBool(kept[j], ip, Py_EQ);
        if (same != 0) {
            return same < 0 ? -1 : 0;
        }
    }
    if (s->nsamples < g->samples) {
        Py_INCREF(ip);
        kept[s->nsamples++] = ip;
    } else {
        s->more = 1;
    }
    return 0;
}

static int sample_text(Groups *g, Slot *s, const char *text, Py_ssize_t len) {
    if (s->more || g->samples == 0) {
        return 0;
    }
    PyObject **store = samples_of(g, s - g->slots);
    for (int j = 0; j < s->nsamples; j++) {
        PyObject *kept = store[j];
        if (PyUnicode_IS_ASCII(kept) && PyUnicode_GET_LENGTH(kept) == len
                && memcmp(PyUnicode_DATA(kept), text, (size_t)len) == 0) {
            return 0;
        }
    }
    if (s->nsamples < g->samples) {
        PyObject *ip = PyUnicode_DecodeASCII(text, len, NULL);
        if (ip == NULL) {
            return -1;
        }
        store[s->nsamples++] = ip;
    } else {
        s->more = 1;
    }
    return 0;
}

/* Add `n` connections to a slot, with what they said (NULL: not said). */
static int slot_add(Slot *s, uint64_t n, const u128 *total, const u128 *out, const double *first, const double *last) {
    if (__builtin_add_overflow(s->connections, n, &s->connections)) {
        PyErr_SetString(PyExc_OverflowError, "connection count beyond 64 bits");
        return -1;
    }
    if (total != NULL) {
        if (add_u128(&s->bytes, *total) < 0) {
            return -1;
        }
        s->has_bytes = 1;
    }
    if (out != NULL) {
        if (add_u128(&s->out, *out) < 0) {
            return -1;
        }
        s->has_out = 1;
    }
    if (first != NULL && *first < s->first) {
        s->first = *first;
    }
    if (last != NULL && *last > s->last) {
        s->last = *last;
    }
    return 0;
}

/* Python's byte counts and times (each may be None) as C values; *_set: not None. */
static int c_values(PyObject *total, PyObject *out, PyObject *first, PyObject *last, u128 *total_v, u128 *out_v,
                    double *first_v, double *last_v) {
    if ((total != Py_None && as_u128(total, total_v) < 0) || (out != Py_None && as_u128(out, out_v) < 0)) {
        return -1;
    }
    if ((first != Py_None && (*first_v = PyFloat_AsDouble(first)) == -1.0 && PyErr_Occurred())
            || (last != Py_None && (*last_v = PyFloat_AsDouble(last)) == -1.0 && PyErr_Occurred())) {
        return -1;
    }
    return 0;
}

/* The slot of `key` with `n` connections and what they said added. */
static Slot *add(Groups *g, PyObject *key, uint64_t n, PyObject *total, PyObject *out, PyObject *first,
                 PyObject *last) {
    u128 total_v = 0, out_v = 0;
    double first_v = 0.0, last_v = 0.0;
    if (c_values(total, out, first, last, &total_v, &out_v, &first_v, &last_v) < 0) {
        return NULL;
    }
    Py_ssize_t slot = slot_of(g, key);
    if (slot < 0) {
        return NULL;
    }
    Slot *s = &g->slots[slot];
    if (slot_add(s, n, total == Py_None ? NULL : &total_v, out == Py_None ? NULL : &out_v,
                 first == Py_None ? NULL : &first_v, last == Py_None ? NULL : &last_v) < 0) {
        return NULL;
    }
    return s;
}

/* add_one(key, ts, total, out, ip=None): one record (ts, total, out and ip may be None). */
static PyObject *groups_add_one(Groups *g, PyObject *args) {
    PyObject *key, *ts, *total, *out, *ip = Py_None;
    if (!usable(g) || !PyArg_ParseTuple(args, "OOOO|O:add_one", &key, &ts, &total, &out, &ip)) {
        return NULL;
    }
    Slot *s = add(g, key, 1, total, out, ts, ts);
    if (s == NULL || (ip != Py_None && sample_obj(g, s, ip) < 0)) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* add_row(key, connections, bytes, out, first, last): a group summarised before (bytes, out,
 * first and last may be None). */
static PyObject *groups_add_row(Groups *g, PyObject *args) {
    PyObject *key, *conns, *total, *out, *first, *last;
    if (!usable(g) || !PyArg_ParseTuple(args, "OOOOOO:add_row", &key, &conns, &total, &out, &first, &last)) {
        return NULL;
    }
    unsigned long long n = PyLong_AsUnsignedLongLong(conns);
    if ((n == (unsigned long long)-1 && PyErr_Occurred()) || add(g, key, n, total, out, first, last) == NULL) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* rows(): per slot, in the order first seen:
 * (key, connections, bytes|None, out|None, first|None, last|None, samples|None, more). */
static PyObject *groups_rows(Groups *g, PyObject *Py_UNUSED(ignored)) {
    if (!usable(g)) {
        return NULL;
    }
    PyObject *rows = PyList_New(g->nslots);
    if (rows == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < g->nslots; i++) {
        Slot *s = &g->slots[i];
        PyObject *samples = Py_None;
        Py_INCREF(Py_None);
        if (g->samples) {
            Py_DECREF(Py_None);
            samples = PyList_New(s->nsamples);
            if (samples == NULL) {
                Py_DECREF(rows);
                return NULL;
            }
            PyObject **kept = samples_of(g, i);
            for (int j = 0; j < s->nsamples; j++) {
                PyList_SET_ITEM(samples, j, Py_NewRef(kept[j]));
            }
        }
        PyObject *bytes = s->has_bytes ? from_u128(s->bytes) : Py_NewRef(Py_None);
        PyObject *out = s->has_out ? from_u128(s->out) : Py_NewRef(Py_None);
        PyObject *first = s->first == INFINITY ? Py_NewRef(Py_None) : PyFloat_FromDouble(s->first);
        PyObject *last = s->last == -INFINITY ? Py_NewRef(Py_None) : PyFloat_FromDouble(s->last);
        PyObject *row = NULL;
        if (bytes != NULL && out != NULL && first != NULL && last != NULL) {
            row = Py_BuildValue("(OKOOOOOO)", PyList_GET_ITEM(g->keys, i), (unsigned long long)s->connections,
                                bytes, out, first, last, samples, s->more ? Py_True : Py_False);
        }
        Py_XDECREF(bytes);
        Py_XDECREF(out);
        Py_XDECREF(first);
        Py_XDECREF(last);
        Py_DECREF(samples);
        if (row == NULL) {
            Py_DECREF(rows);
            return NULL;
        }
        PyList_SET_ITEM(rows, i, row);
    }
    return rows;
}

static PyObject *groups_clear_method(Groups *g, PyObject *Py_UNUSED(ignored)) {
    if (!usable(g)) {
        return NULL;
    }
    groups_reset(g);
    Py_RETURN_NONE;
}

/* ---- scan: a block of plain conn.log lines ------------------------------------------------------ */

typedef struct {
    const char *start;
    Py_ssize_t len;
} Field;

typedef struct {
    double ts;
    uint64_t src[2], dst[2];  /* the address as 128 bits (IPv4: the low 32) */
    uint32_t port;            /* NO_PORT: none */
    int transport;
    u128 total;
    uint64_t out;
    unsigned char src_v6, dst_v6, src_len, dst_len;
    char src_text[INET6_ADDRSTRLEN], dst_text[INET6_ADDRSTRLEN];   /* canonical text */
} Rec;

typedef struct {
    const char *text;
    Py_ssize_t len;
    PyObject *kind;      /* borrowed from the transports dict, alive for the call */
    int icmp;
    int id;              /* the store's number for (name, kind), the same in every call */
} Transport;

/* A dotted quad as ipaddress.IPv4Address takes it (no leading zeros): its own canonical text. */
static int ipv4(const char *p, Py_ssize_t len, uint32_t *out) {
    if (len < 7 || len > 15) {
        return 0;
    }
    uint32_t value = 0;
    int parts = 0;
    Py_ssize_t i = 0;
    while (parts < 4) {
        Py_ssize_t begin = i;
        unsigned octet = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9' && i - begin < 3) {
            octet = octet * 10 + (unsigned)(p[i] - '0');
            i++;
        }
        Py_ssize_t digits = i - begin;
        if (digits == 0 || octet > 255 || (digits > 1 && p[begin] == '0')) {
            return 0;
        }
        value = (value << 8) | octet;
        parts++;
        if (parts < 4) {
            if (i >= len || p[i] != '.') {
                return 0;
            }
            i++;
        }
    }
    if (i != len) {
        return 0;
    }
    *out = value;
    return 1;
}

/* An address as canonical_ip() takes it on its fast path: a dotted quad (its own canonical
 * text), or an IPv6 text without dots or a zone, written back by inet_ntop (RFC 5952) unless that
 * has a dot (IPv4-mapped: ipaddress writes those otherwise). 0: leave it to the Python side. */
static int address(const char *p, Py_ssize_t len, uint64_t *bits, unsigned char *v6, char *text,
                   unsigned char *text_len) {
    uint32_t v4;
    if (ipv4(p, len, &v4)) {
        bits[0] = 0;
        bits[1] = v4;
        *v6 = 0;
        memcpy(text, p, (size_t)len);
        text[len] = 0;
        *text_len = (unsigned char)len;
        return 1;
    }
    if (len < 2 || len >= INET6_ADDRSTRLEN || memchr(p, ':', (size_t)len) == NULL
            || memchr(p, '.', (size_t)len) != NULL || memchr(p, '%', (size_t)len) != NULL) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < len; i++) {   /* inet_pton would stop at a NUL inside the field */
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':')) {
            return 0;
        }
    }
    char copy[INET6_ADDRSTRLEN];
    unsigned char raw[16];
    memcpy(copy, p, (size_t)len);
    copy[len] = 0;
    if (inet_pton(AF_INET6, copy, raw) != 1 || inet_ntop(AF_INET6, raw, text, INET6_ADDRSTRLEN) == NULL
            || strchr(text, '.') != NULL) {
        return 0;
    }
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) {
        hi = (hi << 8) | raw[i];
        lo = (lo << 8) | raw[i + 8];
    }
    bits[0] = hi;
    bits[1] = lo;
    *v6 = 1;
    *text_len = (unsigned char)strlen(text);
    return 1;
}

/* 1 to `width` ASCII digits, as a number. */
static int digits(const char *p, Py_ssize_t len, Py_ssize_t width, uint64_t *out) {
    if (len < 1 || len > width) {
        return 0;
    }
    uint64_t value = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
        value = value * 10 + (uint64_t)(p[i] - '0');  /* 19 digits fit in 64 bits */
    }
    *out = value;
    return 1;
}

/* Digits with at most one dot, read as Python's float() reads them; finite. Longer texts (which
 * float() may still take) are left to the Python side. */
static int epoch(const char *p, Py_ssize_t len, double *out) {
    char copy[64];
    int dots = 0, seen = 0;
    if (len >= (Py_ssize_t)sizeof(copy)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        if (p[i] == '.') {
            dots++;
        } else if (p[i] >= '0' && p[i] <= '9') {
            seen = 1;
        } else {
            return 0;
        }
    }
    if (!seen || dots > 1) {
        return 0;
    }
    memcpy(copy, p, (size_t)len);   /* the parser reads up to a NUL: never past the field */
    copy[len] = 0;
    char *end = NULL;
    double value = PyOS_string_to_double(copy, &end, NULL);
    if (value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (end != copy + len || !isfinite(value)) {
        return 0;
    }
    *out = value;
    return 1;
}

enum { R_TS, R_SRC, R_SPORT, R_DST, R_DPORT, R_PROTO, R_BYTES };

/* Phase one: check and convert every line; 0 (not plain), 1 (all records in `recs`), -1 (error). */
static int parse_block(const char *body, Py_ssize_t size, char sep, Py_ssize_t width, const Py_ssize_t *cols,
                       const Py_ssize_t *byte_cols, int nbytes, int out_first, const Transport *transports,
                       int ntransports, Rec **recs, Py_ssize_t *nrecs) {
    Field *fields = PyMem_Malloc((size_t)width * sizeof(Field));
    Py_ssize_t capacity = 1024, n = 0;
    Rec *out = PyMem_Malloc((size_t)capacity * sizeof(Rec));
    int result = 1;
    if (fields == NULL || out == NULL) {
        PyErr_NoMemory();
        result = -1;
        goto done;
    }
    const char *p = body, *end = body + size;
    for (;;) {
        const char *line = p, *stop = memchr(p, '\n', (size_t)(end - p));
        if (stop == NULL) {
            stop = end;
        }
        if (stop - line > MAX_LINE || line == stop || *line == '#') {
            result = 0;
            goto done;
        }
        Py_ssize_t nf = 0;
        const char *f = line;
        for (const char *c = line; c < stop; c++) {
            if ((unsigned char)*c >= 0x80) {
                result = 0;
                goto done;
            }
            if (*c == sep) {
                if (nf >= width) {
                    result = 0;
                    goto done;
                }
                fields[nf].start = f;
                fields[nf].len = c - f;
                nf++;
                f = c + 1;
            }
        }
        if (nf != width - 1) {
            result = 0;
            goto done;
        }
        fields[nf].start = f;
        fields[nf].len = stop - f;
        if (n == capacity) {
            capacity *= 2;
            Rec *grown = PyMem_Realloc(out, (size_t)capacity * sizeof(Rec));
            if (grown == NULL) {
                PyErr_NoMemory();
                result = -1;
                goto done;
            }
            out = grown;
        }
        Rec *r = &out[n];
        Field *ts = &fields[cols[R_TS]], *src = &fields[cols[R_SRC]], *sport = &fields[cols[R_SPORT]];
        Field *dst = &fields[cols[R_DST]], *dport = &fields[cols[R_DPORT]], *proto = &fields[cols[R_PROTO]];
        uint64_t number;
        if (!epoch(ts->start, ts->len, &r->ts)
                || !address(src->start, src->len, r->src, &r->src_v6, r->src_text, &r->src_len)
                || !address(dst->start, dst->len, r->dst, &r->dst_v6, r->dst_text, &r->dst_len) || !digits(sport->start, sport->len, 5, &number)
                || number > 65535 || !digits(dport->start, dport->len, 5, &number) || number > 65535) {
            result = 0;
            goto done;
        }
        r->port = (uint32_t)number;
        r->transport = -1;
        for (int t = 0; t < ntransports; t++) {
            if (transports[t].len == proto->len && memcmp(transports[t].text, proto->start, (size_t)proto->len) == 0) {
                r->transport = t;
                break;
            }
        }
        if (r->transport < 0) {
            result = 0;
            goto done;
        }
        if (transports[r->transport].icmp) {
            r->port = NO_PORT;
        }
        r->total = 0;
        r->out = 0;
        for (int b = 0; b < nbytes; b++) {
            Field *count = &fields[byte_cols[b]];
            if (!digits(count->start, count->len, 19, &number)) {
                result = 0;
                goto done;
            }
            r->total += number;
            if (b == 0 && out_first) {
                r->out = number;
            }
        }
        n++;
        if (stop == end) {
            break;
        }
        p = stop + 1;
    }
done:
    PyMem_Free(fields);
    if (result == 1) {
        *recs = out;
        *nrecs = n;
    } else {
        PyMem_Free(out);
    }
    return result;
}

/* The label of a destination: by its /24 (remembered) or, where the /24's addresses differ, by
 * asking `label` for the address. New reference. */
static PyObject *label_of(Groups *g, const Rec *r, PyObject *heads, PyObject *label) {
    Key head = {{r->dst[1] >> 8, 0, 0, 0, 0}};
    Entry *e = r->dst_v6 ? NULL : table_find(&g->heads, &head);
    PyObject *known = Py_None;   /* IPv6: the label asked address by address (it remembers /48s) */
    if (r->dst_v6) {
    } else if (e != NULL) {
        known = e->ref;
    } else {
        Py_ssize_t cut = r->dst_len;
        while (cut > 0 && r->dst_text[cut - 1] != '.') {
            cut--;
        }
        PyObject *text = PyUnicode_DecodeASCII(r->dst_text, cut - 1, NULL);
        if (text == NULL) {
            return NULL;
        }
        known = PyObject_GetItem(heads, text);
        Py_DECREF(text);
        if (known == NULL) {
            return NULL;
        }
        if (!PyUnicode_Check(known)) {
            Py_DECREF(known);
            PyErr_SetString(PyExc_TypeError, "a network label must be a str");
            return NULL;
        }
        if (PyUnicode_GET_LENGTH(known) == 0) {   /* the /24's addresses have different labels */
            Py_DECREF(known);
            known = Py_NewRef(Py_None);
        }
        if (g->heads.used >= MAX_HEADS) {
            table_clear(&g->heads);
        }
        int failed = table_put(&g->heads, &head, known, 0);
        Py_DECREF(known);
        if (failed < 0) {
            return NULL;
        }
    }
    if (known != Py_None) {
        return Py_NewRef(known);
    }
    PyObject *ip = PyUnicode_DecodeASCII(r->dst_text, r->dst_len, NULL);
    if (ip == NULL) {
        return NULL;
    }
    PyObject *found = PyObject_CallOneArg(label, ip);
    Py_DECREF(ip);
    if (found != NULL && !PyUnicode_Check(found)) {
        Py_DECREF(found);
        PyErr_SetString(PyExc_TypeError, "a network label must be a str");
        return NULL;
    }
    return found;
}

/* The slot of record `r`. `dest` is its destination's key part when it is a label (held by the
 * table, since its address is part of the key); NULL: the destination address itself. */
static Py_ssize_t record_slot(Groups *g, const Rec *r, PyObject *dest, const Transport *transports) {
    /* port (17 bits, NO_PORT included), transport (< 16), which addresses are IPv6, label or not */
    Key k = {{r->src[0], r->src[1], dest == NULL ? r->dst[0] : (uint64_t)(uintptr_t)dest, dest == NULL ? r->dst[1] : 0,
              ((uint64_t)r->port << 8) | (uint64_t)transports[r->transport].id | ((uint64_t)r->src_v6 << 32)
              | ((uint64_t)r->dst_v6 << 33) | ((uint64_t)(dest != NULL) << 34)}};
    Entry *e = table_find(&g->raw, &k);
    if (e != NULL) {
        return e->value;
    }
    PyObject *src = PyUnicode_DecodeASCII(r->src_text, r->src_len, NULL);
    PyObject *dst = dest != NULL ? Py_NewRef(dest) : PyUnicode_DecodeASCII(r->dst_text, r->dst_len, NULL);
    PyObject *port = r->port == NO_PORT ? Py_NewRef(Py_None) : PyLong_FromUnsignedLong(r->port);
    PyObject *key = NULL;
    Py_ssize_t slot = -1;
    if (src != NULL && dst != NULL && port != NULL) {
        key = PyTuple_Pack(4, src, dst, port, transports[r->transport].kind);
    }
    if (key != NULL) {
        slot = slot_of(g, key);
        if (slot >= 0 && g->raw.used >= MAX_RAW) {
            table_clear(&g->raw);   /* only a memory of the index: safe to forget */
        }
        if (slot >= 0 && table_put(&g->raw, &k, dest, slot) < 0) {
            slot = -1;
        }
    }
    Py_XDECREF(src);
    Py_XDECREF(dst);
    Py_XDECREF(port);
    Py_XDECREF(key);
    return slot;
}

/* The column numbers of a tuple into `out`: 1, 0 (one is not a column of `width`), -1 (error). */
static int column_numbers(PyObject *tuple, Py_ssize_t width, Py_ssize_t *out) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++) {
        out[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(tuple, i));
        if (out[i] == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (out[i] < 0 || out[i] >= width) {
            return 0;
        }
    }
    return 1;
}

static PyObject *groups_scan(Groups *g, PyObject *args) {
    Py_buffer body;
    PyObject *sep_obj, *cols_obj, *bytes_obj, *transports_obj, *heads, *label;
    int out_first;
    Py_ssize_t width;
    if (!usable(g) || !PyArg_ParseTuple(args, "y*UnOOpOOO:scan", &body, &sep_obj, &width, &cols_obj, &bytes_obj,
                                        &out_first, &transports_obj, &heads, &label)) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t cols[6], byte_cols[4];
    Transport transports[MAX_TRANSPORTS];
    int nbytes = 0, ntransports = 0;
    Rec *recs = NULL;
    Py_ssize_t nrecs = 0;
    PyObject *transports_copy = NULL;
    /* one ASCII separator (a Zeek #separator may be longer, or odd): else the caller's way */
    Py_UCS4 sep_char = PyUnicode_GET_LENGTH(sep_obj) == 1 ? PyUnicode_READ_CHAR(sep_obj, 0) : 0;
    if (sep_char < 1 || sep_char > 127 || (sep_char >= '0' && sep_char <= '9') || sep_char == '.' || sep_char == '\n'
            || width < 1 || width > MAX_WIDTH || !PyTuple_Check(cols_obj) || PyTuple_GET_SIZE(cols_obj) != 6
            || !PyTuple_Check(bytes_obj) || PyTuple_GET_SIZE(bytes_obj) < 1 || PyTuple_GET_SIZE(bytes_obj) > 4
            || !PyDict_Check(transports_obj) || PyDict_GET_SIZE(transports_obj) > MAX_TRANSPORTS) {
        result = PyLong_FromLong(-1);   /* not a shape this module reads: the caller's way */
        goto done;
    }
    nbytes = (int)PyTuple_GET_SIZE(bytes_obj);
    int in_range = column_numbers(cols_obj, width, cols);
    if (in_range == 1) {
        in_range = column_numbers(bytes_obj, width, byte_cols);
    }
    if (in_range < 0) {
        goto done;
    }
    if (in_range == 0) {
        result = PyLong_FromLong(-1);
        goto done;
    }
    transports_copy = PyDict_Copy(transports_obj);   /* names and kinds stay alive for the call */
    if (transports_copy == NULL) {
        goto done;
    }
    Py_ssize_t pos = 0;
    PyObject *name, *kind;
    while (PyDict_Next(transports_copy, &pos, &name, &kind)) {
        if (!PyUnicode_Check(name) || !PyUnicode_IS_ASCII(name) || !PyUnicode_Check(kind)) {
            result = PyLong_FromLong(-1);
            goto done;
        }
        int id = -1;
        for (int k = 0; k < g->nkinds && id < 0; k++) {
            if (PyUnicode_Compare(g->kinds[k][0], name) == 0 && PyUnicode_Compare(g->kinds[k][1], kind) == 0) {
                id = k;
            }
        }
        if (id < 0) {
            if (g->nkinds == MAX_KINDS) {
                result = PyLong_FromLong(-1);
                goto done;
            }
            id = g->nkinds++;
            g->kinds[id][0] = Py_NewRef(name);
            g->kinds[id][1] = Py_NewRef(kind);
        }
        Transport *t = &transports[ntransports++];
        t->id = id;
        t->text = (const char *)PyUnicode_DATA(name);
        t->len = PyUnicode_GET_LENGTH(name);
        t->kind = kind;
        t->icmp = PyUnicode_CompareWithASCIIString(kind, "icmp") == 0;
    }
    int parsed = parse_block(body.buf, body.len, (char)sep_char, width, cols, byte_cols, nbytes, out_first,
                             transports, ntransports, &recs, &nrecs);
    if (parsed < 0) {
        goto done;
    }
    if (parsed == 0) {
        result = PyLong_FromLong(-1);
        goto done;
    }
    /* Phase two: every line is valid; add them up. */
    if (heads != Py_None && g->heads_of != heads) {
        table_clear(&g->heads);
        Py_XSETREF(g->heads_of, Py_NewRef(heads));
    }
    for (Py_ssize_t i = 0; i < nrecs; i++) {
        Rec *r = &recs[i];
        Py_ssize_t slot;
        if (heads == Py_None) {
            slot = record_slot(g, r, NULL, transports);
            if (slot < 0) {
                goto done;
            }
        } else {
            PyObject *dest = label_of(g, r, heads, label);
            if (dest == NULL) {
                goto done;
            }
            slot = record_slot(g, r, dest, transports);
            Py_DECREF(dest);
            if (slot < 0) {
                goto done;
            }
        }
        Slot *s = &g->slots[slot];
        u128 sent = r->out;
        if (slot_add(s, 1, &r->total, out_first ? &sent : NULL, &r->ts, &r->ts) < 0) {
            goto done;
        }
        if (g->samples && sample_text(g, s, r->dst_text, r->dst_len) < 0) {
            goto done;
        }
    }
    result = PyLong_FromSsize_t(nrecs);
done:
    PyMem_Free(recs);
    Py_XDECREF(transports_copy);
    PyBuffer_Release(&body);
    return result;
}

static PyMethodDef groups_methods[] = {
    {"add_one", (PyCFunction)groups_add_one, METH_VARARGS,
     "add_one(key, ts, total, out, ip=None): one record (any of ts, total, out, ip may be None)."},
    {"add_row", (PyCFunction)groups_add_row, METH_VARARGS,
     "add_row(key, connections, bytes, out, first, last): a group summarised before."},
    {"scan", (PyCFunction)groups_scan, METH_VARARGS,
     "scan(body, sep, width, cols, byte_cols, out_first, transports, heads, label) -> records added, or -1\n"
     "(nothing changed) when a line of the block is not plain. heads None: keys by address; else by the\n"
     "label heads['a.b.c'] gives the /24 ('' where its addresses differ: label(address))."},
    {"rows", (PyCFunction)groups_rows, METH_NOARGS,
     "rows() -> [(key, connections, bytes, out, first, last, samples, more)] in the order first seen."},
    {"clear", (PyCFunction)groups_clear_method, METH_NOARGS, "clear(): forget every group."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods groups_as_sequence = {
    .sq_length = (lenfunc)groups_len,
};

static PyTypeObject GroupsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "scanner.collect.flows._native_groups.Groups",
    .tp_doc = "Flow records added up per key, one slot per key in the order first seen.",
    .tp_basicsize = sizeof(Groups),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = groups_new,
    .tp_init = (initproc)groups_init,
    .tp_dealloc = (destructor)groups_dealloc,
    .tp_traverse = (traverseproc)groups_traverse,
    .tp_clear = (inquiry)groups_gc_clear,
    .tp_methods = groups_methods,
    .tp_as_sequence = &groups_as_sequence,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native_groups",
    "Optional compiled core of conn_fold: flow groups and a plain-block scanner.", -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native_groups(void) {
    if (PyType_Ready(&GroupsType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&GroupsType);
    if (PyModule_AddObject(m, "Groups", (PyObject *)&GroupsType) < 0) {
        Py_DECREF(&GroupsType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
