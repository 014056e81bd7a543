/* The tracer's hot path in C (optional: tracer.py runs the same logic in Python without it).

Python's sys.settrace costs a Python call per line, and CPython 3.11 copies every local of the
frame into a dict before each call and back after it. This module installs the trace function with
PyEval_SetTrace instead, so a line event costs a C call, and runs in C exactly the "hot path" of
tracer.Tracer._make_local's `local`: a line event after a line that mutated nothing in place, where
only the names that line stores can differ and they are plain locals. Everything else (calls,
returns, exceptions, lines after mutations, output, globals, cells) is handed to the Python
closure `local` itself, which shares all state with this code (the Tracer and _FrameState slots,
the snapshot dict, the events list). So both paths produce the same events by construction; the
test tests/test_fasttrace.py compares them on real programs.

Objects:
- Hook: the global trace function's state (PyEval_SetTrace's obj). On a call event of a user frame
  it calls Tracer._global (Python) and keeps what it returns in frame.f_trace, as the sys.settrace
  trampoline would; library frames get f_trace_lines = 0, so their lines cost nothing.
- Local: one per traced frame, made by Tracer._make_local; its C entry point runs the hot path and
  otherwise calls `slow` (the Python closure). It is also callable from Python (threads use the
  sys.settrace trampoline).
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <structmember.h>

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE

#define FAST_LOCAL 0x20 /* CO_FAST_LOCAL of pycore_code.h: a plain local, not a cell or free var */
#define CELL_KIND 0x40  /* CO_FAST_CELL */
#define FREE_KIND 0x80  /* CO_FAST_FREE */

/* slot offsets of tracer.Tracer and tracer._FrameState (configure()) */
static Py_ssize_t T_stopped = -1, T_n_bytes = -1, T_depths = -1;
static Py_ssize_t F_prev_line = -1, F_epoch = -1, F_xepoch = -1, F_globals_watched = -1, F_last = -1,
                  F_pend = -1, F_keys = -1, F_conts = -1, F_snap = -1, F_func = -1, F_depth = -1, F_info = -1;
static PyObject *S_line, *S_call, *S_return, *S_exception, *S_deleted, *S_event_budget, *S_byte_budget,
    *S_f_locals, *S_f_globals, *S_budget_hit, *NO_CHANGES, *S_fast, *ONE, *S_base, *S_one_name, *S_late, *S_op, *S_set, *S_keys, *S_name, *S_const, *S_dunder, *S_local_function, *S_order, *S_global_prefix, *S_tuple;

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

static void set_slot(PyObject *obj, Py_ssize_t off, PyObject *value) {
    PyObject *old = SLOT(obj, off);
    Py_INCREF(value);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

static Py_ssize_t slot_offset(PyTypeObject *type, const char *name) {
    PyObject *d = PyDict_GetItemString(type->tp_dict, name);
    if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", type->tp_name, name);
        return -1;
    }
    return m->offset;
}

/* ---------------------------------------------------------------------------------------- Local */

typedef struct {
    PyObject_HEAD
    PyObject *tracer, *fs, *slow, *stores, *mutating, *elements, *cross, *full, *output, *epoch,
        *xepoch, *events, *out, *check, *elements_before, *budget, *fast, *pure_stores, *render, *counters;
    Py_ssize_t max_events, max_bytes;
} Local;

static PyTypeObject LocalType;

static int local_traverse(Local *self, visitproc visit, void *arg) {
    Py_VISIT(self->tracer); Py_VISIT(self->fs); Py_VISIT(self->slow); Py_VISIT(self->stores);
    Py_VISIT(self->mutating); Py_VISIT(self->elements); Py_VISIT(self->cross); Py_VISIT(self->full);
    Py_VISIT(self->output); Py_VISIT(self->epoch); Py_VISIT(self->xepoch); Py_VISIT(self->events);
    Py_VISIT(self->out); Py_VISIT(self->check); Py_VISIT(self->elements_before); Py_VISIT(self->budget);
    Py_VISIT(self->fast); Py_VISIT(self->pure_stores); Py_VISIT(self->render); Py_VISIT(self->counters);
    return 0;
}

static int local_clear(Local *self) {
    Py_CLEAR(self->tracer); Py_CLEAR(self->fs); Py_CLEAR(self->slow); Py_CLEAR(self->stores);
    Py_CLEAR(self->mutating); Py_CLEAR(self->elements); Py_CLEAR(self->cross); Py_CLEAR(self->full);
    Py_CLEAR(self->output); Py_CLEAR(self->epoch); Py_CLEAR(self->xepoch); Py_CLEAR(self->events);
    Py_CLEAR(self->out); Py_CLEAR(self->check); Py_CLEAR(self->elements_before); Py_CLEAR(self->budget);
    Py_CLEAR(self->fast); Py_CLEAR(self->pure_stores); Py_CLEAR(self->render); Py_CLEAR(self->counters);
    return 0;
}

static void local_dealloc(Local *self) {
    PyObject_GC_UnTrack(self);
    local_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Local(tracer, fs, slow, stores, mutating, elements, cross, full, output, epoch, xepoch, events,
         out, check, elements_before, budget, max_events, max_bytes, pure_stores, render, counters) */
static PyObject *local_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    Local *self = (Local *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    if (!PyArg_ParseTuple(args, "OOOO!OO!OOOO!O!O!OOOOnnOOO!", &self->tracer, &self->fs, &self->slow,
                          &PyDict_Type, &self->stores, &self->mutating, &PyDict_Type, &self->elements,
                          &self->cross, &self->full, &self->output, &PyList_Type, &self->epoch,
                          &PyList_Type, &self->xepoch, &PyList_Type, &self->events, &self->out,
                          &self->check, &self->elements_before, &self->budget, &self->max_events,
                          &self->max_bytes, &self->pure_stores, &self->render, &PyDict_Type, &self->counters)) {
        self->pure_stores = self->render = self->counters = NULL;
        self->tracer = self->fs = self->slow = self->stores = self->mutating = self->elements = NULL;
        self->cross = self->full = self->output = self->epoch = self->xepoch = self->events = NULL;
        self->out = self->check = self->elements_before = self->budget = NULL;
        Py_DECREF(self);
        return NULL;
    }
    Py_INCREF(self->tracer); Py_INCREF(self->fs); Py_INCREF(self->slow); Py_INCREF(self->stores);
    Py_INCREF(self->mutating); Py_INCREF(self->elements); Py_INCREF(self->cross); Py_INCREF(self->full);
    Py_INCREF(self->output); Py_INCREF(self->epoch); Py_INCREF(self->xepoch); Py_INCREF(self->events);
    Py_INCREF(self->out); Py_INCREF(self->check); Py_INCREF(self->elements_before); Py_INCREF(self->budget);
    Py_INCREF(self->pure_stores); Py_INCREF(self->render); Py_INCREF(self->counters);
    /* the per-line local indices, kept on the frame's CodeInfo (shared by every frame of the code) */
    self->fast = PyObject_GetAttr(SLOT(self->fs, F_info), S_fast);
    if (self->fast == NULL || !PyDict_Check(self->fast)) {
        if (self->fast != NULL) PyErr_SetString(PyExc_TypeError, "CodeInfo.fast must be a dict");
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int set_contains(PyObject *set, PyObject *key) {
    if (PyAnySet_CheckExact(set)) return PySet_Contains(set, key);
    return PySequence_Contains(set, key);
}

/* For the line `prev` of this frame's code: a tuple of (name, place) for the non-global names it
   stores (name_place), or None when one is in a place this file does not read. Cached. */
static Py_ssize_t name_place(Local *self, PyFrameObject *frame, PyObject *name);

static PyObject *line_slots(Local *self, PyFrameObject *frame, PyObject *prev) {
    PyObject *hit = PyDict_GetItemWithError(self->fast, prev);
    if (hit != NULL || PyErr_Occurred()) return hit;
    PyObject *names = PyDict_GetItemWithError(self->stores, prev);
    if (names == NULL && PyErr_Occurred()) return NULL;
    PyObject *out = PyList_New(0), *result = NULL;
    if (out == NULL) return NULL;
    Py_ssize_t n = names ? PyTuple_GET_SIZE(names) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(names, i);
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        if (PyObject_IsTrue(PyTuple_GET_ITEM(pair, 1))) continue; /* a global: not diffed here */
        Py_ssize_t index = name_place(self, frame, name);
        if (index == -4) { Py_DECREF(out); return NULL; }
        if (index == -2) { /* a cell, a free variable, or a name we cannot place: Python's path */
            result = Py_None;
            goto done;
        }
        PyObject *item = Py_BuildValue("(On)", name, index);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    result = PyList_AsTuple(out);
done:
    Py_DECREF(out);
    if (result == NULL) return NULL;
    if (result == Py_None) Py_INCREF(result);
    int rc = PyDict_SetItem(self->fast, prev, result);
    Py_DECREF(result); /* the cache holds it */
    return rc < 0 ? NULL : result;
}

static int int_ne(PyObject *a, PyObject *b) {
    if (a == b) return 0;
    return PyObject_RichCompareBool(a, b, Py_NE);
}

/* tracer.n_bytes += k */
static int add_bytes(Local *self, Py_ssize_t k) {
    PyObject *old = SLOT(self->tracer, T_n_bytes);
    Py_ssize_t v = PyLong_AsSsize_t(old);
    if (v == -1 && PyErr_Occurred()) return -1;
    PyObject *nv = PyLong_FromSsize_t(v + k);
    if (nv == NULL) return -1;
    SLOT(self->tracer, T_n_bytes) = nv;
    Py_DECREF(old);
    return 0;
}

/* A new list for an event's changes. Events, their change lists and change tuples hold only
   strings, ints, bools and None (never the program's containers), so they can be in no reference
   cycle: untracked, the cyclic collector skips them. With them tracked it spent a third of a long
   trace's time walking the millions of objects an event log is made of. */
static PyObject *new_changes(void) {
    PyObject *list = PyList_New(0);
    if (list != NULL) PyObject_GC_UnTrack(list);
    return list;
}

static int is_number_atom(PyObject *v) {
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyLong_Type) {
        int overflow;
        (void)PyLong_AsLongLongAndOverflow(v, &overflow);
        if (!overflow) return 1;
        return _PyLong_NumBits(v) <= 200; /* -(1 << 200) < v < 1 << 200, as tracer._BIG_INT */
    }
    return t == &PyFloat_Type || t == &PyBool_Type || v == Py_None;
}

/* Tracer._check's common case (an int, float, bool or None), or the call to it. */
static int check_one(Local *self, PyObject *name, PyObject *v, PyObject *s, PyObject *snap,
                     PyObject **changes) {
    if (*changes == NULL && (*changes = new_changes()) == NULL) return -1;
    if (!is_number_atom(v)) {
        PyObject *r = PyObject_CallFunctionObjArgs(self->check, name, v, s ? s : Py_None, snap, self->fs,
                                                   *changes, self->budget, NULL);
        Py_XDECREF(r);
        return r == NULL ? -1 : 0;
    }
    PyObject *text = PyObject_Repr(v);
    if (text == NULL) return -1;
    PyObject *entry = PyTuple_Pack(3, v, text, Py_True);
    if (entry != NULL) PyObject_GC_UnTrack(entry);
    if (entry == NULL || PyDict_SetItem(snap, name, entry) < 0) {
        Py_XDECREF(entry);
        Py_DECREF(text);
        return -1;
    }
    Py_DECREF(entry);
    int changed = 1;
    if (s != NULL) {
        changed = PyObject_RichCompareBool(PyTuple_GET_ITEM(s, 1), text, Py_NE);
        if (changed < 0) { Py_DECREF(text); return -1; }
    }
    if (changed) {
        PyObject *c = PyTuple_Pack(3, name, text, Py_False);
        if (c != NULL) PyObject_GC_UnTrack(c);
        if (c == NULL || PyList_Append(*changes, c) < 0) {
            Py_XDECREF(c);
            Py_DECREF(text);
            return -1;
        }
        Py_DECREF(c);
        if (s != NULL && !PyObject_IsTrue(PyTuple_GET_ITEM(s, 2))) {
            if (PySet_Discard(SLOT(self->fs, F_conts), name) < 0) { Py_DECREF(text); return -1; }
        }
    }
    Py_DECREF(text);
    return 0;
}

/* events handled here and events handed to the Python closure, in this process (benchmarks) */
static long long n_fast_events, n_slow_events;

/* tracer._atoms_only: every name of a counter line holds an int, float, bool, str, bytes, complex
   or None in the snapshot (1), or not (0), -1 on error */
static int atoms_only(PyObject *names, PyObject *snap) {
    if (!PyTuple_Check(names)) return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        PyObject *s = PyDict_GetItemWithError(snap, PyTuple_GET_ITEM(names, i));
        if (s == NULL) return PyErr_Occurred() ? -1 : 0;
        PyObject *v = PyTuple_GET_ITEM(s, 0);
        if (!(PyLong_CheckExact(v) || PyFloat_CheckExact(v) || PyBool_Check(v) || PyUnicode_CheckExact(v) ||
              PyBytes_CheckExact(v) || PyComplex_CheckExact(v) || v == Py_None))
            return 0;
    }
    return 1;
}

static int call_slow(Local *self, PyFrameObject *frame, PyObject *what, PyObject *arg) {
    n_slow_events++;
    if (self->slow == Py_None) { /* built on first use: Tracer._local_function(fs) */
        PyObject *fn = PyObject_CallMethodOneArg(self->tracer, S_local_function, self->fs);
        if (fn == NULL) return -1;
        Py_SETREF(self->slow, fn);
    }
    PyObject *r = PyObject_CallFunctionObjArgs(self->slow, (PyObject *)frame, what, arg ? arg : Py_None, NULL);
    if (r == NULL) return -1;
    int clear = r == Py_None;
    Py_DECREF(r);
    return clear; /* 1: stop tracing this frame */
}

static PyObject *what_string(int what) {
    switch (what) {
    case PyTrace_CALL: return S_call;
    case PyTrace_LINE: return S_line;
    case PyTrace_RETURN: return S_return;
    case PyTrace_EXCEPTION: return S_exception;
    default: return NULL;
    }
}

#include "_fasttrace_elements.h"  /* name_place, before_c, post_store... */

/* past max_events or max_bytes: Tracer._budget_hit (which removes the hook). 0, or -1 on error. */
static int budget_check(Local *self) {
    PyObject *reason = NULL;
    if (PyList_GET_SIZE(self->events) >= self->max_events) {
        reason = S_event_budget;
    } else {
        Py_ssize_t nb = PyLong_AsSsize_t(SLOT(self->tracer, T_n_bytes));
        if (nb == -1 && PyErr_Occurred()) return -1;
        if (nb >= self->max_bytes) reason = S_byte_budget;
    }
    if (reason != NULL) {
        PyObject *r = PyObject_CallMethodOneArg(self->tracer, S_budget_hit, reason);
        if (r == NULL) return -1;
        Py_DECREF(r);
    }
    return 0;
}

/* tracer._event's end for a return (its changes are attached already): the rendered value, the
   frame's depth entry dropped, the event. 0, or -1 on error. */
static int return_event(Local *self, PyFrameObject *frame, PyObject *value) {
    PyObject *fs = self->fs, *text;
    int elided;
    if (element_text(self, value ? value : Py_None, &text, &elided) < 0) return -1;
    PyObject *id = PyLong_FromVoidPtr(frame);
    if (id == NULL) { Py_DECREF(text); return -1; }
    int rc = PyDict_DelItem(SLOT(self->tracer, T_depths), id);
    Py_DECREF(id);
    if (rc < 0) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) { Py_DECREF(text); return -1; }
        PyErr_Clear();
    }
    PyObject *step = PyLong_FromSsize_t(PyList_GET_SIZE(self->events));
    PyObject *lineno = step ? PyLong_FromLong(PyFrame_GetLineNumber(frame)) : NULL;
    PyObject *ev = lineno ? PyList_New(7) : NULL;
    if (ev == NULL) { Py_XDECREF(step); Py_XDECREF(lineno); Py_DECREF(text); return -1; }
    PyObject_GC_UnTrack(ev); /* see new_changes() */
    Py_ssize_t nb = 32 + PyUnicode_GET_LENGTH(text);
    PyList_SET_ITEM(ev, 0, step);
    Py_INCREF(S_return); PyList_SET_ITEM(ev, 1, S_return);
    PyList_SET_ITEM(ev, 2, lineno);
    PyObject *func = SLOT(fs, F_func), *depth = SLOT(fs, F_depth);
    Py_INCREF(func); PyList_SET_ITEM(ev, 3, func);
    Py_INCREF(depth); PyList_SET_ITEM(ev, 4, depth);
    Py_INCREF(NO_CHANGES); PyList_SET_ITEM(ev, 5, NO_CHANGES);
    PyList_SET_ITEM(ev, 6, text); /* steals */
    rc = PyList_Append(self->events, ev);
    if (rc == 0) set_slot(fs, F_last, ev);
    Py_DECREF(ev);
    if (rc < 0 || add_bytes(self, nb) < 0) return -1;
    return budget_check(self);
}

/* tracer._diff when it scans every name of a function's frame (its first line, or after another
   frame rebound one of its names): tracer._scan_all in the frame's own order (CodeInfo.order), then
   the epochs. Appends to *changes. 1 done, 0 left to Python (module code, a pending element store,
   a name this file does not read, names put into locals() by hand), -1 on error. */
static int scan_all(Local *self, PyFrameObject *frame, PyObject **changes) {
    PyObject *fs = self->fs, *snap = SLOT(fs, F_snap);
    if (SLOT(fs, F_pend) != Py_None || !(frame->f_frame->f_code->co_flags & CO_OPTIMIZED)) return 0;
    PyObject *order = PyObject_GetAttr(SLOT(fs, F_info), S_order);
    if (order == NULL) return -1;
    int rc = 0;
    PyObject *places = NULL, *keys = NULL;
    if (!PyTuple_CheckExact(order)) goto done;
    Py_ssize_t n = PyTuple_GET_SIZE(order);
    if ((places = PyList_New(n)) == NULL) { rc = -1; goto done; }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t p = name_place(self, frame, PyTuple_GET_ITEM(order, i));
        if (p == -4) { rc = -1; goto done; }
        if (p < 0 && p > -10) goto done; /* not a plain local, cell or free variable */
        PyObject *pl = PyLong_FromSsize_t(p);
        if (pl == NULL) { rc = -1; goto done; }
        PyList_SET_ITEM(places, i, pl);
    }
    PyObject *loc = frame->f_frame->f_locals; /* names put there by hand stay in it: Python's path */
    if (loc != NULL) {
        if (!PyDict_CheckExact(loc)) goto done;
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(loc, &pos, &key, &value)) {
            int known = PySequence_Contains(order, key);
            if (known < 0) { rc = -1; goto done; }
            if (!known) goto done;
        }
    }
    int check_all = int_ne(SLOT(fs, F_epoch), PyList_GET_ITEM(self->epoch, 0));
    if (check_all < 0) { rc = -1; goto done; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(order, i);
        PyObject *v = local_value(frame, PyLong_AsSsize_t(PyList_GET_ITEM(places, i)), name);
        if (v == NULL) continue;
        PyObject *s = PyDict_GetItemWithError(snap, name);
        if (s == NULL && PyErr_Occurred()) { rc = -1; goto done; }
        if (s != NULL && PyTuple_GET_ITEM(s, 0) == v && (PyTuple_GET_ITEM(s, 2) == Py_True || !check_all)) continue;
        Py_XINCREF(s);
        Py_INCREF(v);
        int r = check_one(self, name, v, s, snap, changes);
        Py_DECREF(v);
        Py_XDECREF(s);
        if (r < 0) { rc = -1; goto done; }
    }
    /* names of the snapshot no longer bound: deleted (the "global X" entries are not names) */
    if ((keys = PyDict_Keys(snap)) == NULL) { rc = -1; goto done; }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        PyObject *name = PyList_GET_ITEM(keys, i);
        if (PyUnicode_Tailmatch(name, S_global_prefix, 0, 7, -1)) continue;
        Py_ssize_t p = name_place(self, frame, name);
        if (p == -4) { rc = -1; goto done; }
        if (p == -2 || p == -3) { PyErr_SetString(PyExc_RuntimeError, "scan_all: a name out of place"); rc = -1; goto done; }
        if (local_value(frame, p, name) != NULL) continue;
        if (PyDict_DelItem(snap, name) < 0 || PySet_Discard(SLOT(fs, F_conts), name) < 0) { rc = -1; goto done; }
        if (*changes == NULL && (*changes = new_changes()) == NULL) { rc = -1; goto done; }
        PyObject *c = PyTuple_Pack(3, name, S_deleted, Py_False);
        if (c == NULL || PyList_Append(*changes, c) < 0) { Py_XDECREF(c); rc = -1; goto done; }
        PyObject_GC_UnTrack(c);
        Py_DECREF(c);
    }
    set_slot(fs, F_epoch, PyList_GET_ITEM(self->epoch, 0));
    set_slot(fs, F_xepoch, PyList_GET_ITEM(self->xepoch, 0));
    rc = 1;
done:
    Py_DECREF(order);
    Py_XDECREF(places);
    Py_XDECREF(keys);
    return rc;
}

/* One event of this Local's frame. Returns 0 to keep tracing the frame, 1 to stop, -1 on error. */
static int local_event(Local *self, PyFrameObject *frame, int what, PyObject *arg) {
    if (PyObject_IsTrue(SLOT(self->tracer, T_stopped))) return 1;
    PyObject *fs = self->fs;
    PyObject *prev = SLOT(fs, F_prev_line);
    PyObject *pend = NULL; /* set: this event follows a pure element-store line (post_store) */
    PyObject *changes = NULL;
    Py_ssize_t extra = 0;
    int scan = what == PyTrace_LINE && prev == Py_None; /* tracer._diff's full scan (_scan_all) */
    if (!scan && ((what != PyTrace_LINE && what != PyTrace_RETURN) || prev == Py_None)) goto slow;
    int ne = int_ne(SLOT(fs, F_xepoch), PyList_GET_ITEM(self->xepoch, 0));
    if (ne < 0) return -1;
    if (ne) {
        if (what != PyTrace_LINE) goto slow;
        scan = 1;
    }
    if (PyObject_IsTrue(SLOT(fs, F_globals_watched))) goto slow;
    if (self->out != Py_None && prev != Py_None) {
        ne = set_contains(self->output, prev);
        if (ne) goto slow_or_error;
    }
    if (scan) {
        ne = scan_all(self, frame, &changes);
        if (ne <= 0) { if (ne < 0) goto error; goto slow; }
        n_fast_events++;
        goto attach;
    }
    ne = int_ne(SLOT(fs, F_epoch), PyList_GET_ITEM(self->epoch, 0));
    if (ne < 0) return -1;
    if (ne) {
        /* only this frame's previous line mutated, by plain element stores (tracer._diff's `stored`) */
        PyObject *mine = PyNumber_Add(SLOT(fs, F_epoch), ONE);
        if (mine == NULL) return -1;
        ne = int_ne(mine, PyList_GET_ITEM(self->epoch, 0));
        Py_DECREF(mine);
        if (ne) goto slow_or_error;
        pend = SLOT(fs, F_pend);
        if (pend == Py_None) goto slow;
        ne = set_contains(self->pure_stores, prev);
        if (ne <= 0) { if (ne < 0) return -1; goto slow; }
        ne = post_store_ok(self, frame, pend, SLOT(fs, F_conts));
        if (ne <= 0) { if (ne < 0) return -1; goto slow; }
    }
    PyObject *slots = line_slots(self, frame, prev);
    if (slots == NULL) return -1;
    if (slots == Py_None) goto slow;
    if (!(frame->f_frame->f_code->co_flags & CO_OPTIMIZED)) {
        PyObject *loc = frame->f_frame->f_locals;
        if (loc == NULL || !PyDict_CheckExact(loc)) goto slow; /* a namespace that is no plain dict */
    }

    /* ---- the names the previous line stores (tracer.py `local` and `_diff`, same order) */
    n_fast_events++;
    PyObject *snap = SLOT(fs, F_snap);
    Py_ssize_t n = PyTuple_GET_SIZE(slots);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(slots, i);
        PyObject *name = PyTuple_GET_ITEM(pair, 0);
        Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
        PyObject *v = local_value(frame, index, name);
        if (v == NULL && PyErr_Occurred()) goto error;
        if (v != NULL) {
            PyObject *s = PyDict_GetItemWithError(snap, name);
            if (s == NULL && PyErr_Occurred()) goto error;
            if (s != NULL && PyTuple_GET_ITEM(s, 0) == v && PyTuple_GET_ITEM(s, 2) == Py_True) continue;
            Py_XINCREF(s);
            Py_INCREF(v);
            int rc = check_one(self, name, v, s, snap, &changes);
            Py_DECREF(v);
            Py_XDECREF(s);
            if (rc < 0) goto error;
        } else {
            int in = PyDict_Contains(snap, name);
            if (in < 0) goto error;
            if (in) {
                if (PyDict_DelItem(snap, name) < 0 || PySet_Discard(SLOT(fs, F_conts), name) < 0) goto error;
                if (changes == NULL && (changes = new_changes()) == NULL) goto error;
                PyObject *c = PyTuple_Pack(3, name, S_deleted, Py_False);
                if (c == NULL || PyList_Append(changes, c) < 0) { Py_XDECREF(c); goto error; }
                PyObject_GC_UnTrack(c);
                Py_DECREF(c);
            }
        }
    }
    if (pend != NULL) {
        extra = post_store(self, frame, pend, &changes);
        if (extra < 0) goto error;
    }
attach:
    if (changes != NULL && PyList_GET_SIZE(changes)) {
        Py_ssize_t nb = extra, m = PyList_GET_SIZE(changes);
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *c = PyList_GET_ITEM(changes, j);
            nb += PyObject_Length(PyTuple_GET_ITEM(c, 0)) + PyObject_Length(PyTuple_GET_ITEM(c, 1)) + 8;
        }
        if (add_bytes(self, nb) < 0) goto error;
        PyObject *last = SLOT(fs, F_last);
        if (last != Py_None) {
            PyObject *had = PyList_GET_ITEM(last, 5);
            int truthy = PyObject_IsTrue(had);
            if (truthy < 0) goto error;
            if (truthy) {
                PyObject *r = _PyList_Extend((PyListObject *)had, changes);
                if (r == NULL) goto error;
                Py_DECREF(r);
            } else {
                Py_INCREF(changes);
                PyList_SET_ITEM(last, 5, changes);
                Py_DECREF(had);
            }
        }
    }
    Py_CLEAR(changes);

    if (what == PyTrace_RETURN) return return_event(self, frame, arg);

    /* ---- this line's own event */
    PyObject *lineno = PyLong_FromLong(PyFrame_GetLineNumber(frame));
    if (lineno == NULL) return -1;
    int in = set_contains(self->mutating, lineno);
    if (in < 0) goto error_line;
    if (in && PyDict_GET_SIZE(self->counters)) { /* `ans += 1` on atoms mutates nothing (tracer._atoms_only) */
        PyObject *names = PyDict_GetItemWithError(self->counters, lineno);
        if (names == NULL && PyErr_Occurred()) goto error_line;
        if (names != NULL) {
            in = atoms_only(names, SLOT(fs, F_snap));
            if (in < 0) goto error_line;
            in = !in;
        }
    }
    if (in) {
        PyObject *e = PyNumber_Add(PyList_GET_ITEM(self->epoch, 0), ONE);
        if (e == NULL) goto error_line;
        PyList_SetItem(self->epoch, 0, e); /* steals e; the list keeps it alive */
        PyObject *mine = PyNumber_Subtract(e, ONE);
        if (mine == NULL) goto error_line;
        set_slot(fs, F_epoch, mine);
        Py_DECREF(mine);
        PyObject *stores = PyDict_GetItemWithError(self->elements, lineno);
        if (stores == NULL && PyErr_Occurred()) goto error_line;
        if (stores != NULL) {
            PyObject *fresh = before_c(self, frame, stores);
            if (fresh == NULL) goto error_line;
            if (fresh == Py_None) { /* another kind of store: elements.before itself */
                PyObject *loc = PyObject_GetAttr((PyObject *)frame, S_f_locals);
                PyObject *glb = loc ? PyObject_GetAttr((PyObject *)frame, S_f_globals) : NULL;
                fresh = glb ? PyObject_CallFunctionObjArgs(self->elements_before, stores, loc, glb,
                                                           self->budget, NULL) : NULL;
                Py_XDECREF(loc);
                Py_XDECREF(glb);
                if (fresh == NULL) goto error_line;
            }
            set_slot(fs, F_pend, fresh);
            Py_DECREF(fresh);
        }
    }
    in = set_contains(self->cross, lineno);
    if (in < 0) goto error_line;
    if (in) {
        PyObject *e = PyNumber_Add(PyList_GET_ITEM(self->xepoch, 0), ONE);
        if (e == NULL) goto error_line;
        PyList_SetItem(self->xepoch, 0, e);
    }
    in = set_contains(self->full, lineno);
    if (in < 0) goto error_line;
    set_slot(fs, F_prev_line, in ? Py_None : lineno);
    PyObject *step = PyLong_FromSsize_t(PyList_GET_SIZE(self->events));
    if (step == NULL) goto error_line;
    PyObject *ev = PyList_New(7);
    if (ev == NULL) { Py_DECREF(step); goto error_line; }
    PyObject_GC_UnTrack(ev); /* see new_changes() */
    PyList_SET_ITEM(ev, 0, step);
    Py_INCREF(S_line); PyList_SET_ITEM(ev, 1, S_line);
    PyList_SET_ITEM(ev, 2, lineno); /* steals our reference */
    PyObject *func = SLOT(fs, F_func), *depth = SLOT(fs, F_depth);
    Py_INCREF(func); PyList_SET_ITEM(ev, 3, func);
    Py_INCREF(depth); PyList_SET_ITEM(ev, 4, depth);
    Py_INCREF(NO_CHANGES); PyList_SET_ITEM(ev, 5, NO_CHANGES);
    Py_INCREF(Py_None); PyList_SET_ITEM(ev, 6, Py_None);
    int rc = PyList_Append(self->events, ev);
    if (rc == 0) set_slot(fs, F_last, ev);
    Py_DECREF(ev);
    if (rc < 0 || add_bytes(self, 32) < 0) return -1;
    return budget_check(self);

error_line:
    Py_DECREF(lineno);
    return -1;
error:
    Py_XDECREF(changes);
    return -1;
slow_or_error:
    if (ne < 0) return -1;
slow:
    {
        PyObject *w = what_string(what);
        if (w == NULL) return 0;
        return call_slow(self, frame, w, arg);
    }
}

static int what_from_string(PyObject *s) {
    if (PyUnicode_Compare(s, S_line) == 0) return PyTrace_LINE;
    if (PyUnicode_Compare(s, S_call) == 0) return PyTrace_CALL;
    if (PyUnicode_Compare(s, S_return) == 0) return PyTrace_RETURN;
    if (PyUnicode_Compare(s, S_exception) == 0) return PyTrace_EXCEPTION;
    return -1;
}

/* Called from Python (a thread's sys.settrace trampoline): local(frame, event, arg) -> self or None */
static PyObject *local_call(Local *self, PyObject *args, PyObject *kw) {
    PyObject *frame, *event, *arg;
    if (!PyArg_ParseTuple(args, "O!UO", &PyFrame_Type, &frame, &event, &arg)) return NULL;
    int what = what_from_string(event);
    int rc = what < 0 ? 0 : local_event(self, (PyFrameObject *)frame, what, arg);
    if (rc < 0) return NULL;
    if (rc == 1) Py_RETURN_NONE;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyTypeObject LocalType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracegen._fasttrace.Local",
    .tp_basicsize = sizeof(Local),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = local_new,
    .tp_dealloc = (destructor)local_dealloc,
    .tp_traverse = (traverseproc)local_traverse,
    .tp_clear = (inquiry)local_clear,
    .tp_call = (ternaryfunc)local_call,
    .tp_doc = "One traced frame's line hook (tracer.py's `local`, hot path in C).",
};

/* ----------------------------------------------------------------------------------------- Hook */

typedef struct {
    PyObject_HEAD
    PyObject *global_fn; /* Tracer._global */
    PyObject *filename;  /* USER_FILENAME */
} Hook;

static int hook_traverse(Hook *self, visitproc visit, void *arg) {
    Py_VISIT(self->global_fn);
    Py_VISIT(self->filename);
    return 0;
}

static int hook_clear(Hook *self) {
    Py_CLEAR(self->global_fn);
    Py_CLEAR(self->filename);
    return 0;
}

static void hook_dealloc(Hook *self) {
    PyObject_GC_UnTrack(self);
    hook_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *hook_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    PyObject *global_fn, *filename;
    if (!PyArg_ParseTuple(args, "OU", &global_fn, &filename)) return NULL;
    Hook *self = (Hook *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    Py_INCREF(global_fn);
    Py_INCREF(filename);
    self->global_fn = global_fn;
    self->filename = filename;
    return (PyObject *)self;
}

static int trace_fn(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {
    Hook *hook = (Hook *)obj;
    int rc;
    if (what == PyTrace_CALL) {
        PyObject *fn = frame->f_frame->f_code->co_filename;
        if (fn != hook->filename && PyUnicode_Compare(fn, hook->filename) != 0) {
            frame->f_trace_lines = 0; /* a library frame: no line events at all */
            return 0;
        }
        PyObject *r = PyObject_CallFunctionObjArgs(hook->global_fn, (PyObject *)frame, S_call,
                                                   arg ? arg : Py_None, NULL);
        if (r == NULL) goto error;
        if (r == Py_None) {
            Py_DECREF(r);
            Py_CLEAR(frame->f_trace);
            return 0;
        }
        Py_XSETREF(frame->f_trace, r);
        return 0;
    }
    PyObject *local = frame->f_trace;
    if (local == NULL) return 0;
    if (Py_IS_TYPE(local, &LocalType)) {
        Py_INCREF(local);
        rc = local_event((Local *)local, frame, what, arg);
        Py_DECREF(local);
    } else { /* a Python callable: the trampoline's protocol */
        PyObject *w = what_string(what);
        if (w == NULL) return 0;
        PyObject *r = PyObject_CallFunctionObjArgs(local, (PyObject *)frame, w, arg ? arg : Py_None, NULL);
        if (r == NULL) goto error;
        rc = r == Py_None;
        if (!rc) Py_XSETREF(frame->f_trace, r);
        else Py_DECREF(r);
    }
    if (rc < 0) goto error;
    if (rc == 1) Py_CLEAR(frame->f_trace);
    return 0;
error:
    /* as the sys.settrace trampoline does: tracing stops, the error propagates */
    PyEval_SetTrace(NULL, NULL);
    Py_CLEAR(frame->f_trace);
    return -1;
}

static PyTypeObject HookType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracegen._fasttrace.Hook",
    .tp_basicsize = sizeof(Hook),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = hook_new,
    .tp_dealloc = (destructor)hook_dealloc,
    .tp_traverse = (traverseproc)hook_traverse,
    .tp_clear = (inquiry)hook_clear,
    .tp_doc = "Hook(global_fn, filename): the global trace function's state.",
};

/* --------------------------------------------------------------------------------------- module */

static PyObject *settrace(PyObject *mod, PyObject *hook) {
    if (hook == Py_None) {
        PyEval_SetTrace(NULL, NULL);
        Py_RETURN_NONE;
    }
    if (!Py_IS_TYPE(hook, &HookType)) {
        PyErr_SetString(PyExc_TypeError, "settrace(Hook or None)");
        return NULL;
    }
    PyEval_SetTrace(trace_fn, hook);
    Py_RETURN_NONE;
}

static PyObject *configure(PyObject *mod, PyObject *args) {
    PyTypeObject *tracer, *fstate;
    if (!PyArg_ParseTuple(args, "O!O!", &PyType_Type, &tracer, &PyType_Type, &fstate)) return NULL;
    if ((T_stopped = slot_offset(tracer, "stopped")) < 0 || (T_n_bytes = slot_offset(tracer, "n_bytes")) < 0 ||
        (T_depths = slot_offset(tracer, "_depths")) < 0 ||
        (F_prev_line = slot_offset(fstate, "prev_line")) < 0 || (F_epoch = slot_offset(fstate, "epoch")) < 0 ||
        (F_xepoch = slot_offset(fstate, "xepoch")) < 0 ||
        (F_globals_watched = slot_offset(fstate, "globals_watched")) < 0 ||
        (F_last = slot_offset(fstate, "last")) < 0 || (F_pend = slot_offset(fstate, "pend")) < 0 ||
        (F_conts = slot_offset(fstate, "conts")) < 0 || (F_keys = slot_offset(fstate, "keys")) < 0 || (F_snap = slot_offset(fstate, "snap")) < 0 ||
        (F_func = slot_offset(fstate, "func")) < 0 || (F_depth = slot_offset(fstate, "depth")) < 0 ||
        (F_info = slot_offset(fstate, "info")) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *counts(PyObject *mod, PyObject *unused) {
    return Py_BuildValue("(LL)", n_fast_events, n_slow_events);
}

static PyMethodDef methods[] = {
    {"counts", counts, METH_NOARGS, "counts() -> (events taken in C, events handed to Python), in this process."},
    {"settrace", settrace, METH_O, "settrace(hook): install Hook as the C trace function (None: remove)."},
    {"configure", configure, METH_VARARGS, "configure(Tracer, _FrameState): learn their slot offsets."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "_fasttrace", NULL, -1, methods};

PyMODINIT_FUNC PyInit__fasttrace(void) {
    if (PyType_Ready(&LocalType) < 0 || PyType_Ready(&HookType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(S_line, "line"); INTERN(S_call, "call"); INTERN(S_return, "return");
    INTERN(S_exception, "exception"); INTERN(S_deleted, "<deleted>");
    INTERN(S_event_budget, "event_budget"); INTERN(S_byte_budget, "byte_budget");
    INTERN(S_f_locals, "f_locals"); INTERN(S_f_globals, "f_globals"); INTERN(S_budget_hit, "_budget_hit");
    INTERN(S_fast, "fast"); INTERN(S_base, "base"); INTERN(S_op, "op"); INTERN(S_set, "set");
    INTERN(S_keys, "keys"); INTERN(S_name, "name"); INTERN(S_const, "const"); INTERN(S_dunder, "__"); INTERN(S_local_function, "_local_function");
    INTERN(S_order, "order"); INTERN(S_global_prefix, "global "); INTERN(S_tuple, "tuple");
    INTERN(S_one_name, "one_name"); INTERN(S_late, "late");
    if ((NO_CHANGES = PyTuple_New(0)) == NULL || (ONE = PyLong_FromLong(1)) == NULL) return NULL;
    Py_INCREF(&LocalType);
    Py_INCREF(&HookType);
    if (PyModule_AddObject(m, "Local", (PyObject *)&LocalType) < 0 ||
        PyModule_AddObject(m, "Hook", (PyObject *)&HookType) < 0)
        return NULL;
    return m;
}
