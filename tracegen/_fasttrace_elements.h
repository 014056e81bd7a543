/* Element stores for _fasttrace.c (included once, there: one translation unit).

Where a name lives in a frame (fast local, cell, module dict), and the `dp[i] = v` case of
tracegen/elements.py in C: `before_c` (elements.before) when the line starts, `post_store`
(tracer._diff's lines for the event after a pure element-store line, and elements.after). Any
other kind of store is left to the Python functions, which give the same result.
*/

/* Where `name` lives in this frame (cached per code in CodeInfo.fast under the name):
   >= 0 a plain fast local's index; -(10 + index) a cell or free variable's; -1 not a local (an
   optimized frame: globals only); -3 the frame's locals dict (module and class bodies); -2 a
   place this file does not read (Python's path); -4 an error. */
static Py_ssize_t name_place(Local *self, PyFrameObject *frame, PyObject *name) {
    PyObject *hit = PyDict_GetItemWithError(self->fast, name);
    if (hit != NULL) return PyLong_AsSsize_t(hit);
    if (PyErr_Occurred()) return -4;
    PyCodeObject *co = frame->f_frame->f_code;
    Py_ssize_t place = -1;
    if (co->co_flags & CO_OPTIMIZED) {
        for (Py_ssize_t j = 0; j < co->co_nlocalsplus; j++) {
            if (PyUnicode_Compare(PyTuple_GET_ITEM(co->co_localsplusnames, j), name) == 0) {
                unsigned char kind = (unsigned char)PyBytes_AS_STRING(co->co_localspluskinds)[j];
                place = kind == FAST_LOCAL ? j : (kind & (CELL_KIND | FREE_KIND)) ? -(10 + j) : -2;
                break;
            }
        }
    } else {
        place = co->co_nlocalsplus == 0 ? -3 : -2;
    }
    PyObject *v = PyLong_FromSsize_t(place);
    if (v == NULL || PyDict_SetItem(self->fast, name, v) < 0) {
        Py_XDECREF(v);
        return -4;
    }
    Py_DECREF(v);
    return place;
}

/* loc.get(name) as tracer.py sees it (frame.f_locals): a borrowed value or NULL. `place` from
   name_place, not -2/-4. May set an error (module dicts). */
static PyObject *local_value(PyFrameObject *frame, Py_ssize_t place, PyObject *name) {
    if (place >= 0) return _PyFrame_GetLocalsArray(frame->f_frame)[place];
    if (place <= -10) {
        /* as frame.f_locals reads it: line events come after MAKE_CELL and COPY_FREE_VARS, so the
           slot holds the cell (an argument that is a cell held its raw value only before) */
        PyObject *cell = _PyFrame_GetLocalsArray(frame->f_frame)[-(place + 10)];
        if (cell == NULL || !PyCell_Check(cell)) return cell;
        return PyCell_GET(cell);
    }
    if (place == -1) return NULL;
    PyObject *loc = frame->f_frame->f_locals;
    return PyDict_GetItemWithError(loc, name);
}

/* elements._lookup: the local, else the global. Borrowed or NULL (error set or not). */
static PyObject *lookup(Local *self, PyFrameObject *frame, Py_ssize_t place, PyObject *name) {
    PyObject *v = local_value(frame, place, name);
    if (v != NULL || PyErr_Occurred()) return v;
    return PyDict_GetItemWithError(frame->f_frame->f_globals, name);
}

static int small_int(PyObject *v) { /* type(v) is int and -_BIG < v < _BIG (elements.py) */
    if (!PyLong_CheckExact(v)) return 0;
    int overflow;
    (void)PyLong_AsLongLongAndOverflow(v, &overflow);
    return !overflow || _PyLong_NumBits(v) <= 200;
}

/* (text, elided) of an element: elements.py's `repr(v) if small int else render(v, budget)` */
static int element_text(Local *self, PyObject *v, PyObject **text, int *elided) {
    if (small_int(v)) {
        *elided = 0;
        *text = PyObject_Repr(v);
        return *text ? 0 : -1;
    }
    PyObject *r = PyObject_CallFunctionObjArgs(self->render, v, self->budget, NULL);
    if (r == NULL) return -1;
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "render() must give (text, elided)");
        return -1;
    }
    *text = PyTuple_GET_ITEM(r, 0);
    Py_INCREF(*text);
    *elided = PyObject_IsTrue(PyTuple_GET_ITEM(r, 1));
    Py_DECREF(r);
    return *elided < 0 ? -1 : 0;
}

/* An element store this file handles: `base[name] = ...` (ElementStore.one_name, not late). Gives
   (base, one_name) borrowed from the store, or 0 for any other store. */
static int one_name_store(PyObject *st, PyObject **base, PyObject **one) {
    PyObject *o = PyObject_GetAttr(st, S_one_name);
    if (o == NULL) return -1;
    PyObject *late = PyObject_GetAttr(st, S_late);
    if (late == NULL) { Py_DECREF(o); return -1; }
    int ok = o != Py_None && late == Py_False;
    Py_DECREF(late);
    Py_DECREF(o);
    if (!ok) return 0;
    PyObject *b = PyObject_GetAttr(st, S_base);
    if (b == NULL) return -1;
    *base = b;
    *one = PyObject_GetAttr(st, S_one_name);
    Py_DECREF(b); /* the store keeps both alive */
    if (*one == NULL) return -1;
    Py_DECREF(*one);
    return 1;
}

/* elements.before for a line whose stores are all one_name stores with an int or str key (the
   `dp[i] = ...` of DP loops). Returns the new pend list, Py_None (borrowed) when another case is met
   (the caller calls elements.before), or NULL on error. */
static PyObject *before_c(Local *self, PyFrameObject *frame, PyObject *stores) {
    if (!PyTuple_Check(stores)) return Py_None;
    PyObject *pend = PyList_New(0);
    if (pend == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(stores); i++) {
        PyObject *st = PyTuple_GET_ITEM(stores, i), *base, *one;
        int k = one_name_store(st, &base, &one);
        if (k <= 0) goto other;
        Py_ssize_t pb = name_place(self, frame, base), pk = name_place(self, frame, one);
        if (pb == -4 || pk == -4) goto error;
        if (pb == -2 || pk == -2) goto other;
        PyObject *cont = lookup(self, frame, pb, base);
        if (cont == NULL && PyErr_Occurred()) goto error;
        if (cont == NULL || !(PyList_CheckExact(cont) || PyDict_CheckExact(cont))) continue;
        PyObject *key = lookup(self, frame, pk, one);
        if (key == NULL && PyErr_Occurred()) goto error;
        if (key == NULL || !(PyLong_CheckExact(key) || PyUnicode_CheckExact(key))) goto other;
        Py_INCREF(cont);
        Py_INCREF(key);
        PyObject *v = PyObject_GetItem(cont, key), *old = NULL;
        if (v == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_IndexError) && !PyErr_ExceptionMatches(PyExc_KeyError) &&
                !PyErr_ExceptionMatches(PyExc_TypeError)) {
                Py_DECREF(cont); Py_DECREF(key);
                goto error;
            }
            PyErr_Clear();
            old = Py_None;
            Py_INCREF(old);
        } else {
            int elided;
            int rc = element_text(self, v, &old, &elided);
            Py_DECREF(v);
            if (rc < 0) { Py_DECREF(cont); Py_DECREF(key); goto error; }
        }
        PyObject *keys = PyList_New(1);
        if (keys == NULL) { Py_DECREF(cont); Py_DECREF(key); Py_DECREF(old); goto error; }
        PyList_SET_ITEM(keys, 0, key); /* steals */
        PyObject *entry = PyTuple_Pack(4, st, cont, keys, old);
        Py_DECREF(keys); Py_DECREF(cont); Py_DECREF(old);
        if (entry == NULL || PyList_Append(pend, entry) < 0) { Py_XDECREF(entry); goto error; }
        Py_DECREF(entry);
    }
    return pend;
other:
    if (PyErr_Occurred()) goto error;
    Py_DECREF(pend);
    return Py_None;
error:
    Py_DECREF(pend);
    return NULL;
}

/* elements._emit: (path, text, elided, base, old), and the same for other names of the frame
   bound to the same container */
static int emit(Local *self, PyObject *out, PyObject *base, PyObject *cont, PyObject *key, PyObject *text,
                int elided, PyObject *old, PyObject *snap, PyObject *conts) {
    PyObject *kr = PyObject_Repr(key);
    if (kr == NULL) return -1;
    PyObject *path = PyUnicode_FromFormat("%U[%U]", base, kr);
    if (path == NULL) { Py_DECREF(kr); return -1; }
    PyObject *c = PyTuple_Pack(5, path, text, elided ? Py_True : Py_False, base, old);
    Py_DECREF(path);
    if (c == NULL || PyList_Append(out, c) < 0) { Py_XDECREF(c); Py_DECREF(kr); return -1; }
    PyObject_GC_UnTrack(c);
    Py_DECREF(c);
    if (PySet_GET_SIZE(conts) > 1) {
        Py_ssize_t pos = 0;
        PyObject *other;
        Py_hash_t hash;
        while (_PySet_NextEntry(conts, &pos, &other, &hash)) {
            int same = PyUnicode_Compare(other, base);
            if (same == 0) continue;
            PyObject *s = PyDict_GetItemWithError(snap, other);
            if (s == NULL) { if (PyErr_Occurred()) { Py_DECREF(kr); return -1; } continue; }
            if (PyTuple_GET_ITEM(s, 0) != cont) continue;
            PyObject *p2 = PyUnicode_FromFormat("%U[%U]", other, kr);
            PyObject *c2 = p2 ? PyTuple_Pack(5, p2, text, elided ? Py_True : Py_False, other, old) : NULL;
            Py_XDECREF(p2);
            if (c2 == NULL || PyList_Append(out, c2) < 0) { Py_XDECREF(c2); Py_DECREF(kr); return -1; }
            PyObject_GC_UnTrack(c2);
            Py_DECREF(c2);
        }
    }
    Py_DECREF(kr);
    return 0;
}

/* Whether the event after a pure element-store line can be diffed here: every pend entry is a
   one_name store (made by before_c or elements.before's same case) and every container name of the
   frame and every base is a plain local or a module-dict name. */
static int post_store_ok(Local *self, PyFrameObject *frame, PyObject *pend, PyObject *conts) {
    if (!PyList_CheckExact(pend) || !PyAnySet_CheckExact(conts)) return 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pend); i++) {
        PyObject *e = PyList_GET_ITEM(pend, i), *base, *one;
        if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 4) return 0;
        PyObject *keys = PyTuple_GET_ITEM(e, 2);
        if (!PyList_CheckExact(keys) || PyList_GET_SIZE(keys) != 1) return 0;
        int k = one_name_store(PyTuple_GET_ITEM(e, 0), &base, &one);
        if (k <= 0) return k;
        Py_ssize_t p = name_place(self, frame, base);
        if (p == -4) return -1;
        if (p == -2) return 0;
    }
    Py_ssize_t pos = 0;
    PyObject *name;
    Py_hash_t hash;
    while (_PySet_NextEntry(conts, &pos, &name, &hash)) {
        Py_ssize_t p = name_place(self, frame, name);
        if (p == -4) return -1;
        if (p == -2) return 0;
    }
    return 1;
}

/* tracer._diff's lines for the event after a pure element-store line (see post_store_ok): the
   frame's containers that may have changed, then the element changes (elements.after). Appends to
   *changes; returns the extra byte count of the element changes, or -1 on error. */
static Py_ssize_t post_store(Local *self, PyFrameObject *frame, PyObject *pend, PyObject **changes) {
    PyObject *fs = self->fs, *snap = SLOT(fs, F_snap), *conts = SLOT(fs, F_conts), *keys = SLOT(fs, F_keys);
    if (*changes == NULL && (*changes = new_changes()) == NULL) return -1;
    Py_ssize_t n = PyList_GET_SIZE(pend);
    PyObject *names = PySequence_List(conts); /* the set's own order, as `for name in fs.conts` */
    if (names == NULL) return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        Py_ssize_t p = name_place(self, frame, name);
        PyObject *v = p == -4 ? NULL : local_value(frame, p, name);
        if (p == -4 || (v == NULL && PyErr_Occurred())) goto error;
        PyObject *s = PyDict_GetItemWithError(snap, name);
        if (s == NULL) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, name);
            goto error;
        }
        if (v == NULL || v != PyTuple_GET_ITEM(s, 0)) continue;
        PyObject *k = PyDict_GetItemWithError(keys, name);
        if (k == NULL && PyErr_Occurred()) goto error;
        if (k != NULL && PyTuple_Check(k) && PyTuple_GET_SIZE(k) == 2 && PyList_CheckExact(PyTuple_GET_ITEM(k, 1))) {
            int stored = 0;
            for (Py_ssize_t j = 0; j < n; j++) stored |= PyTuple_GET_ITEM(PyList_GET_ITEM(pend, j), 1) == v;
            if (!stored) continue; /* a list of atoms that no store of this line wrote into */
        }
        Py_INCREF(s);
        Py_INCREF(v);
        PyObject *r = PyObject_CallFunctionObjArgs(self->check, name, v, s, snap, fs, *changes, self->budget, NULL);
        Py_DECREF(v);
        Py_DECREF(s);
        if (r == NULL) goto error;
        Py_DECREF(r);
    }
    Py_CLEAR(names);
    set_slot(fs, F_epoch, PyList_GET_ITEM(self->epoch, 0));
    set_slot(fs, F_xepoch, PyList_GET_ITEM(self->xepoch, 0));
    /* elements.after, one_name stores */
    Py_ssize_t extra = 0;
    Py_INCREF(pend); /* fs.pend is dropped below */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(pend, i), *base, *one;
        PyObject *st = PyTuple_GET_ITEM(e, 0), *cont = PyTuple_GET_ITEM(e, 1), *old = PyTuple_GET_ITEM(e, 3);
        if (one_name_store(st, &base, &one) < 0) goto error_pend;
        Py_ssize_t p = name_place(self, frame, base);
        if (p == -4) goto error_pend;
        PyObject *now = lookup(self, frame, p, base);
        if (now == NULL && PyErr_Occurred()) goto error_pend;
        if (now != cont) continue; /* the name was rebound: its whole-value change tells it */
        PyObject *key = PyList_GET_ITEM(PyTuple_GET_ITEM(e, 2), 0);
        Py_INCREF(key);
        PyObject *v = PyObject_GetItem(cont, key);
        if (v == NULL) {
            Py_DECREF(key);
            if (!PyErr_ExceptionMatches(PyExc_IndexError) && !PyErr_ExceptionMatches(PyExc_KeyError) &&
                !PyErr_ExceptionMatches(PyExc_TypeError))
                goto error_pend;
            PyErr_Clear();
            continue;
        }
        PyObject *text;
        int elided;
        int rc = element_text(self, v, &text, &elided);
        Py_DECREF(v);
        if (rc < 0) { Py_DECREF(key); goto error_pend; }
        int differ = PyObject_RichCompareBool(text, old, Py_NE);
        if (differ < 0) { Py_DECREF(text); Py_DECREF(key); goto error_pend; }
        if (differ) {
            if (PyLong_CheckExact(key) && PyList_CheckExact(cont) && _PyLong_Sign(key) < 0) {
                PyObject *len = PyLong_FromSsize_t(PyList_GET_SIZE(cont));
                PyObject *k2 = len ? PyNumber_Add(key, len) : NULL;
                Py_XDECREF(len);
                Py_DECREF(key);
                if (k2 == NULL) { Py_DECREF(text); goto error_pend; }
                key = k2;
            }
            Py_ssize_t before_n = PyList_GET_SIZE(*changes);
            rc = emit(self, *changes, base, cont, key, text, elided, old, snap, conts);
            if (rc < 0) { Py_DECREF(text); Py_DECREF(key); goto error_pend; }
            for (Py_ssize_t j = before_n; j < PyList_GET_SIZE(*changes); j++) {
                PyObject *c = PyList_GET_ITEM(*changes, j);
                extra += PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(c, 3)) + 8 +
                         (PyTuple_GET_ITEM(c, 4) == Py_None ? 0 : PyObject_Length(PyTuple_GET_ITEM(c, 4)));
            }
        }
        Py_DECREF(text);
        Py_DECREF(key);
    }
    set_slot(fs, F_pend, Py_None);
    Py_DECREF(pend);
    return extra;
error_pend:
    Py_DECREF(pend);
    return -1;
error:
    Py_XDECREF(names);
    return -1;
}
