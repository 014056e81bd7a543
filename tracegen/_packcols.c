/* The C half of tracegen/event_columns.py: `pack(events)` gives exactly the bytes of
 * event_columns.pack_py(events) (tests/test_event_packing.py compares them), in one pass over the
 * tracer's lists instead of a Python list per field. The blob's layout is described there.
 * Optional: setup.py builds it when it can; without it the pure-Python packer runs. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} Buf;

static int buf_grow(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (!p) { PyErr_NoMemory(); return -1; }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *src, Py_ssize_t n) {
    if (buf_grow(b, n) < 0) return -1;
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}


static void put_i32(char *p, int32_t v) {
    unsigned char *u = (unsigned char *)p;
    u[0] = v & 0xff; u[1] = (v >> 8) & 0xff; u[2] = (v >> 16) & 0xff; u[3] = ((uint32_t)v >> 24) & 0xff;
}

/* One column of k entries: validity (a bitmap in Arrow's order, element i is bit i % 8 of byte
 * i / 8; kept only if some entry is null), then values (int32 / bits) or int32 offsets and UTF-8
 * data. The fixed-size buffers have room for the entries expected and grow zero-filled. */
typedef struct {
    char layout; /* 'i', 's', 'b' */
    Buf valid, vals, data;
    Py_ssize_t count, nulls, capk; /* entries so far, nulls among them, room for entries */
    int32_t end; /* strings: bytes of data so far */
} Col;

static int grow_zeroed(Buf *b, Py_ssize_t size) {
    if (size <= b->cap) return 0;
    char *p = PyMem_Realloc(b->p, size);
    if (!p) { PyErr_NoMemory(); return -1; }
    memset(p + b->cap, 0, size - b->cap);
    b->p = p;
    b->cap = size;
    return 0;
}

/* room for k entries, the new room zeroed (values stay 0 / false / "" and null bits 0 unless set) */
static int col_reserve(Col *c, Py_ssize_t k) {
    if (k <= c->capk) return 0;
    if (k < 2 * c->capk) k = 2 * c->capk;
    if (grow_zeroed(&c->valid, (k + 7) / 8 + 1) < 0) return -1;
    if (grow_zeroed(&c->vals, c->layout == 'b' ? (k + 7) / 8 + 1 : 4 * (k + 1)) < 0) return -1;
    c->capk = k;
    return 0;
}

static int col_init(Col *c, char layout, Py_ssize_t k) {
    c->layout = layout;
    if (col_reserve(c, k > 0 ? k : 1) < 0) return -1;
    return layout == 's' ? buf_grow(&c->data, 4 * k + 8) : 0;
}

/* the sizes of a column's buffers once full */
static Py_ssize_t valid_size(Col *c) { return c->nulls ? (c->count + 7) / 8 : 0; }
static Py_ssize_t vals_size(Col *c) {
    return c->layout == 'b' ? (c->count + 7) / 8 : 4 * (c->count + (c->layout == 's'));
}

static int col_add(Col *c, PyObject *x) {
    Py_ssize_t i = c->count++;
    if (x == Py_None) {
        c->nulls++;
        if (c->layout == 's') put_i32(c->vals.p + 4 * (i + 1), c->end);
        return 0; /* values stay 0 / false / "" */
    }
    c->valid.p[i / 8] |= (char)(1 << (i % 8));
    if (c->layout == 'i') {
        if (!PyLong_Check(x)) {
            PyErr_Format(PyExc_TypeError, "an integer is required (got type %.100s)", Py_TYPE(x)->tp_name);
            return -1;
        }
        long v = PyLong_AsLong(x);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v < INT32_MIN || v > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "signed integer is greater than maximum");
            return -1;
        }
        put_i32(c->vals.p + 4 * i, (int32_t)v);
        return 0;
    }
    if (c->layout == 'b') {
        /* bools (or ints) only: the truth of anything else could run Python code under our feet */
        if (!PyLong_Check(x)) {
            PyErr_Format(PyExc_TypeError, "a bool is required (got type %.100s)", Py_TYPE(x)->tp_name);
            return -1;
        }
        int on = x == Py_True ? 1 : x == Py_False ? 0 : PyObject_IsTrue(x);
        if (on) c->vals.p[i / 8] |= (char)(1 << (i % 8));
        return 0;
    }
    if (!PyUnicode_Check(x)) {
        PyErr_Format(PyExc_TypeError, "a str is required (got type %.100s)", Py_TYPE(x)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(x, &n);
    if (s != NULL) {
        if (buf_put(&c->data, s, n) < 0) return -1;
    } else { /* a lone surrogate: as the pure packer, surrogatepass (the parent rejects it) */
        PyErr_Clear();
        PyObject *enc = PyUnicode_AsEncodedString(x, "utf-8", "surrogatepass");
        if (!enc) return -1;
        n = PyBytes_GET_SIZE(enc);
        int r = buf_put(&c->data, PyBytes_AS_STRING(enc), n);
        Py_DECREF(enc);
        if (r < 0) return -1;
    }
    if ((Py_ssize_t)c->end + n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "event strings past 2 GiB");
        return -1;
    }
    c->end += (int32_t)n;
    put_i32(c->vals.p + 4 * (i + 1), c->end);
    return 0;
}

/* FIELDS of event_columns.py, in order; 'o' is the changes' offsets */
#define NFIELDS 12
static const char FIELD_LAYOUT[NFIELDS] = {'s', 'i', 's', 'i', 's', 'i', 'o', 's', 's', 'b', 's', 's'};
#define NBUFFERS 30

static PyObject *item(PyObject *seq, Py_ssize_t i) {
    /* borrowed; events and changes are lists or tuples */
    if (PyList_Check(seq)) return i < PyList_GET_SIZE(seq) ? PyList_GET_ITEM(seq, i) : NULL;
    if (PyTuple_Check(seq)) return i < PyTuple_GET_SIZE(seq) ? PyTuple_GET_ITEM(seq, i) : NULL;
    return NULL;
}

static Py_ssize_t seq_len(PyObject *seq) {
    if (PyList_Check(seq)) return PyList_GET_SIZE(seq);
    if (PyTuple_Check(seq)) return PyTuple_GET_SIZE(seq);
    PyErr_SetString(PyExc_TypeError, "events and changes must be lists or tuples");
    return -1;
}

static PyObject *pack_into(PyObject *events, const char *prefix, Py_ssize_t prefix_len);

static PyObject *pack(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *events;
    Py_buffer prefix = {0};
    if (!PyArg_ParseTuple(args, "O|y*", &events, &prefix)) return NULL;
    PyObject *out = pack_into(events, (const char *)prefix.buf, prefix.buf ? prefix.len : 0);
    if (prefix.obj) PyBuffer_Release(&prefix);
    return out;
}

/* the blob after `prefix` (the result's JSON head: one allocation, no copy of the blob after) */
static PyObject *pack_into(PyObject *events, const char *prefix, Py_ssize_t prefix_len) {
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "pack() takes the list of events");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(events), m = 0;
    Col cols[NFIELDS];
    memset(cols, 0, sizeof cols);
    Py_ssize_t *waiting = NULL, nwait = 0;
    long *depths = NULL;
    PyObject *out = NULL;
    if (n > INT32_MAX - 1) { PyErr_SetString(PyExc_OverflowError, "too many events"); return NULL; }
    for (int f = 0; f < NFIELDS; f++) /* the change columns grow as they fill: a guess */
        if (col_init(&cols[f], FIELD_LAYOUT[f] == 'o' ? 'i' : FIELD_LAYOUT[f], f < 7 ? n + (f == 6) : n) < 0)
            goto done;
    Buf *offsets = &cols[6].vals; /* the changes' offsets: n + 1 int32 (the first is 0) */
    Buf *effects = &cols[5].vals;
    waiting = PyMem_Malloc(sizeof(Py_ssize_t) * (n + 1));
    depths = PyMem_Malloc(sizeof(long) * (n + 1));
    if (!waiting || !depths) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(events, i);
        if (seq_len(e) < 0) goto done;
        PyObject *kind = item(e, 1), *lineno = item(e, 2), *func = item(e, 3), *depth = item(e, 4),
                 *changes = item(e, 5), *value = item(e, 6);
        if (!value) { PyErr_SetString(PyExc_IndexError, "an event has fewer than 7 fields"); goto done; }
        if (col_add(&cols[0], kind) < 0 || col_add(&cols[1], lineno) < 0 || col_add(&cols[2], func) < 0 ||
            col_add(&cols[3], depth) < 0 || col_add(&cols[4], value) < 0)
            goto done;
        /* effects_at (tracer.effects_at): a call's at once; any other event's at the next event of
         * its frame, the next one no deeper than it; n when the program ended first */
        if (!PyLong_Check(depth)) { PyErr_SetString(PyExc_TypeError, "an event's depth is no int"); goto done; }
        long d = PyLong_AsLong(depth);
        if (d == -1 && PyErr_Occurred()) goto done;
        depths[i] = d;
        put_i32(effects->p + 4 * i, (int32_t)n);
        while (nwait && depths[waiting[nwait - 1]] >= d) put_i32(effects->p + 4 * waiting[--nwait], (int32_t)i);
        int is_call = PyUnicode_Check(kind) && PyUnicode_CompareWithASCIIString(kind, "call") == 0;
        if (is_call) put_i32(effects->p + 4 * i, (int32_t)i);
        else waiting[nwait++] = i;
        Py_ssize_t k = seq_len(changes);
        if (k < 0) goto done;
        if (m + k > INT32_MAX - 1) { PyErr_SetString(PyExc_OverflowError, "too many changes"); goto done; }
        for (int f = 7; f < NFIELDS; f++)
            if (col_reserve(&cols[f], m + k) < 0) goto done;
        for (Py_ssize_t j = 0; j < k; j++) {
            PyObject *c = item(changes, j);
            Py_ssize_t len = seq_len(c);
            if (len < 0) goto done;
            if (len < 3) { PyErr_SetString(PyExc_IndexError, "a change has fewer than 3 fields"); goto done; }
            PyObject *name = item(c, 0), *five = len == 5 ? c : NULL;
            if (col_add(&cols[7], name) < 0 || col_add(&cols[8], item(c, 1)) < 0 ||
                col_add(&cols[9], item(c, 2)) < 0 || col_add(&cols[10], five ? item(c, 3) : name) < 0 ||
                col_add(&cols[11], five ? item(c, 4) : Py_None) < 0)
                goto done;
        }
        m += k;
        put_i32(offsets->p + 4 * (i + 1), (int32_t)m);
    }
    cols[5].count = n; /* effects_at and the offsets were written in place: no validity */
    cols[6].count = n + 1;
    {
    /* the buffers, in blob order */
    const char *ptr[NBUFFERS];
    Py_ssize_t size[NBUFFERS];
    int b = 0;
    for (int f = 0; f < NFIELDS; f++) {
        Col *c = &cols[f];
        if (FIELD_LAYOUT[f] == 'o') {
            ptr[b] = offsets->p; size[b++] = vals_size(c);
            continue;
        }
        ptr[b] = c->valid.p; size[b++] = valid_size(c);
        ptr[b] = c->vals.p; size[b++] = vals_size(c);
        if (c->layout == 's') { ptr[b] = c->data.p; size[b++] = c->data.len; }
    }
    Py_ssize_t total = prefix_len + 4 + 4 * 3 + 4 * NBUFFERS;
    for (int i = 0; i < NBUFFERS; i++) total += size[i] + (-size[i] & 7);
    out = PyBytes_FromStringAndSize(NULL, total);
    if (!out) goto done;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(out);
    if (prefix_len) memcpy(p, prefix, prefix_len);
    p += prefix_len;
    memcpy(p, "SXEV", 4);
    p += 4;
    uint32_t head[3 + NBUFFERS] = {(uint32_t)n, (uint32_t)m, NBUFFERS};
    for (int i = 0; i < NBUFFERS; i++) head[3 + i] = (uint32_t)size[i];
    for (int i = 0; i < 3 + NBUFFERS; i++) {
        uint32_t v = head[i];
        p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = v >> 24;
        p += 4;
    }
    for (int i = 0; i < NBUFFERS; i++) {
        if (size[i]) memcpy(p, ptr[i], size[i]);
        p += size[i];
        Py_ssize_t pad = -size[i] & 7;
        memset(p, 0, pad);
        p += pad;
    }
}

done:
    for (int f = 0; f < NFIELDS; f++) {
        PyMem_Free(cols[f].valid.p);
        PyMem_Free(cols[f].vals.p);
        PyMem_Free(cols[f].data.p);
    }
    PyMem_Free(waiting);
    PyMem_Free(depths);
    return out;
}

static PyMethodDef methods[] = {
    {"pack", pack, METH_VARARGS, "pack(events, prefix=b'') -> bytes: prefix, then Tracer.events as event_columns' blob."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_packcols", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__packcols(void) { return PyModule_Create(&module); }
