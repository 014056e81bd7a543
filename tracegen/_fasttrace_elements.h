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

/* A store this file handles (ElementStore): op "set", not late, every key ("name", n) or
   ("const", int or str): `dp[i] = v`, `dp[i][j] = v`, `a[0] = v`. Gives the base and the key
   expressions (borrowed: the store keeps them) and whether it is a one_name store; 0 for any
   other store. */
/* 1: ("name", n) or ("const", int or str); 0: anything else */
static int simple_key(PyObject *e) {
    if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(e, 0))) return 0;
    PyObject *tag = PyTuple_GET_ITEM(e, 0), *arg = PyTuple_GET_ITEM(e, 1);
    if (PyUnicode_Compare(tag, S_name) == 0) return PyUnicode_CheckExact(arg);
    return PyUnicode_Compare(tag, S_const) == 0 && (PyLong_CheckExact(arg) || PyUnicode_CheckExact(arg));
}

static int simple_store_uncached(PyObject *st, PyObject **base, PyObject **keys, int *one) {
    PyObject *late = PyObject_GetAttr(st, S_late), *op = NULL, *o = NULL, *b = NULL, *k = NULL;
    int ok = 0;
    if (late == NULL) return -1;
    if (late != Py_False) goto done;
    if ((op = PyObject_GetAttr(st, S_op)) == NULL) { ok = -1; goto done; }
    if (!PyUnicode_Check(op) || PyUnicode_Compare(op, S_set) != 0) goto done;
    if ((k = PyObject_GetAttr(st, S_keys)) == NULL) { ok = -1; goto done; }
    if (!PyTuple_CheckExact(k) || PyTuple_GET_SIZE(k) == 0) goto done;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(k); i++) {
        int atom = simple_key(PyTuple_GET_ITEM(k, i));
        if (atom == 0) {  /* ("tuple", parts): `memo[(r, c)] = v`, parts simple */
            PyObject *e = PyTuple_GET_ITEM(k, i);
            if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(e, 0)) ||
                PyUnicode_Compare(PyTuple_GET_ITEM(e, 0), S_tuple) != 0 || !PyTuple_CheckExact(PyTuple_GET_ITEM(e, 1)))
                goto done;
            PyObject *parts = PyTuple_GET_ITEM(e, 1);
            for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(parts); j++)
                if (simple_key(PyTuple_GET_ITEM(parts, j)) != 1) goto done;
        }
    }
    if ((o = PyObject_GetAttr(st, S_one_name)) == NULL || (b = PyObject_GetAttr(st, S_base)) == NULL) {
        ok = -1;
        goto done;
    }
    if (!PyUnicode_CheckExact(b)) goto done;
    *one = o != Py_None;
    *base = b;
    *keys = k;
    ok = 1;
done:
    Py_XDECREF(late); Py_XDECREF(op); Py_XDECREF(o); Py_XDECREF(b); Py_XDECREF(k);
    return ok;
}

/* simple_store_uncached, remembered per ElementStore in CodeInfo.fast (the store is its key: no
   string or int key there is an ElementStore): (base, keys, one) or None */
static int simple_store(Local *self, PyObject *st, PyObject **base, PyObject **keys, int *one) {
    PyObject *hit = PyDict_GetItemWithError(self->fast, st);
    if (hit == NULL) {
        if (PyErr_Occurred()) return -1;
        int k = simple_store_uncached(st, base, keys, one);
        if (k < 0) return -1;
        PyObject *entry = k ? Py_BuildValue("(OOi)", *base, *keys, *one) : Py_None;
        if (entry == NULL) return -1;
        if (!k) Py_INCREF(entry);
        int rc = PyDict_SetItem(self->fast, st, entry);
        Py_DECREF(entry);
        return rc < 0 ? -1 : k;
    }
    if (hit == Py_None) return 0;
    *base = PyTuple_GET_ITEM(hit, 0);
    *keys = PyTuple_GET_ITEM(hit, 1);
    *one = PyLong_AsLong(PyTuple_GET_ITEM(hit, 2)) != 0;
    return 1;
}

/* One key's value (new reference): an int or str for a simple key, a tuple of them for a tuple
   key; Py_None (borrowed) when it is no such value or lives where this file does not read. */
static PyObject *key_value(Local *self, PyFrameObject *frame, PyObject *e) {
    PyObject *arg = PyTuple_GET_ITEM(e, 1);
    if (PyUnicode_Compare(PyTuple_GET_ITEM(e, 0), S_tuple) == 0) {
        PyObject *out = PyTuple_New(PyTuple_GET_SIZE(arg));
        if (out == NULL) return NULL;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(arg); j++) {
            PyObject *v = key_value(self, frame, PyTuple_GET_ITEM(arg, j));
            if (v == NULL || v == Py_None) { Py_DECREF(out); return v; }
            PyTuple_SET_ITEM(out, j, v);
        }
        return out;
    }
    PyObject *v = arg;
    if (PyUnicode_Compare(PyTuple_GET_ITEM(e, 0), S_name) == 0) {
        Py_ssize_t p = name_place(self, frame, arg);
        if (p == -4) return NULL;
        if (p == -2) return Py_None;
        v = lookup(self, frame, p, arg);
        if (v == NULL && PyErr_Occurred()) return NULL;
        if (v == NULL || !(PyLong_CheckExact(v) || PyUnicode_CheckExact(v))) return Py_None;
    }
    Py_INCREF(v);
    return v;
}

/* The keys' values (a new list of ints and strings), or Py_None (borrowed) when one is not such a
   value or lives where this file does not read (the caller leaves the line to Python). */
static PyObject *key_values(Local *self, PyFrameObject *frame, PyObject *keys) {
    PyObject *out = PyList_New(PyTuple_GET_SIZE(keys));
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        PyObject *v = key_value(self, frame, PyTuple_GET_ITEM(keys, i));
        if (v == NULL) goto error;
        if (v == Py_None) goto other;
        PyList_SET_ITEM(out, i, v);
    }
    return out;
other:
    Py_DECREF(out);
    return Py_None;
error:
    Py_DECREF(out);
    return NULL;
}

/* cont[key], or NULL with no error set where elements.py's lookups fail (IndexError, KeyError,
   TypeError); NULL with an error set for anything else. New reference. */
static PyObject *get_item(PyObject *cont, PyObject *key) {
    PyObject *v = PyObject_GetItem(cont, key);
    if (v == NULL && (PyErr_ExceptionMatches(PyExc_IndexError) || PyErr_ExceptionMatches(PyExc_KeyError) ||
                      PyErr_ExceptionMatches(PyExc_TypeError)))
        PyErr_Clear();
    return v;
}

/* elements._walk over the first n keys (each step into a list, tuple or dict only). New reference,
   or NULL (no error set: _NOPE). */
static PyObject *walk(PyObject *cont, PyObject *keys, Py_ssize_t n) {
    Py_INCREF(cont);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(PyList_CheckExact(cont) || PyTuple_CheckExact(cont) || PyDict_CheckExact(cont))) {
            Py_DECREF(cont);
            return NULL;
        }
        PyObject *next = get_item(cont, PyList_GET_ITEM(keys, i));
        Py_DECREF(cont);
        if (next == NULL) return NULL;
        cont = next;
    }
    return cont;
}

/* elements.before for a line whose stores are all simple_store()s. Returns the new pend list,
   Py_None (borrowed) when another case is met (the caller calls elements.before), or NULL on error. */
static PyObject *before_c(Local *self, PyFrameObject *frame, PyObject *stores) {
    if (!PyTuple_Check(stores)) return Py_None;
    PyObject *pend = PyList_New(0);
    if (pend == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(stores); i++) {
        PyObject *st = PyTuple_GET_ITEM(stores, i), *base, *kexprs;
        int one;
        int k = simple_store(self, st, &base, &kexprs, &one);
        if (k < 0) goto error;
        if (k == 0) goto other;
        Py_ssize_t pb = name_place(self, frame, base);
        if (pb == -4) goto error;
        if (pb == -2) goto other;
        PyObject *cont = lookup(self, frame, pb, base);
        if (cont == NULL && PyErr_Occurred()) goto error;
        if (cont == NULL || !(PyList_CheckExact(cont) || PyDict_CheckExact(cont))) continue;
        PyObject *keys = key_values(self, frame, kexprs);
        if (keys == NULL) goto error;
        if (keys == Py_None) goto other;
        Py_INCREF(cont);
        PyObject *v = one ? get_item(cont, PyList_GET_ITEM(keys, 0)) : walk(cont, keys, PyList_GET_SIZE(keys));
        PyObject *old = NULL;
        if (v == NULL && PyErr_Occurred()) { Py_DECREF(cont); Py_DECREF(keys); goto error; }
        if (v == NULL) {
            old = Py_None;
            Py_INCREF(old);
        } else {
            int elided;
            int rc = element_text(self, v, &old, &elided);
            Py_DECREF(v);
            if (rc < 0) { Py_DECREF(cont); Py_DECREF(keys); goto error; }
        }
        PyObject *entry = PyTuple_Pack(4, st, cont, keys, old);
        Py_DECREF(keys); Py_DECREF(cont); Py_DECREF(old);
        if (entry == NULL || PyList_Append(pend, entry) < 0) { Py_XDECREF(entry); goto error; }
        Py_DECREF(entry);
    }
    return pend;
other:
    Py_DECREF(pend);
    return Py_None;
error:
    Py_DECREF(pend);
    return NULL;
}

/* out.append((name + suffix, text, elided, name, old)): one element change (untracked, see new_changes) */
static int append_change(PyObject *out, PyObject *name, PyObject *suffix, PyObject *text, int elided, PyObject *old) {
    PyObject *path = PyUnicode_Concat(name, suffix);
    PyObject *c = path ? PyTuple_Pack(5, path, text, elided ? Py_True : Py_False, name, old) : NULL;
    Py_XDECREF(path);
    if (c == NULL || PyList_Append(out, c) < 0) { Py_XDECREF(c); return -1; }
    PyObject_GC_UnTrack(c);
    Py_DECREF(c);
    return 0;
}

/* elements._emit: (path, text, elided, base, old), and the same for other names of the frame
   bound to the same container. `keys` is a list of the element's keys. */
static int emit(Local *self, PyObject *out, PyObject *base, PyObject *cont, PyObject *keys, PyObject *text,
                int elided, PyObject *old, PyObject *snap, PyObject *conts) {
    PyObject *suffix = PyUnicode_New(0, 0);
    for (Py_ssize_t i = 0; suffix != NULL && i < PyList_GET_SIZE(keys); i++) {
        PyObject *kr = PyObject_Repr(PyList_GET_ITEM(keys, i));
        PyObject *part = kr ? PyUnicode_FromFormat("%U[%U]", suffix, kr) : NULL;
        Py_XDECREF(kr);
        Py_SETREF(suffix, part);
    }
    if (suffix == NULL) return -1;
    if (append_change(out, base, suffix, text, elided, old) < 0) { Py_DECREF(suffix); return -1; }
    if (PySet_GET_SIZE(conts) > 1) {
        Py_ssize_t pos = 0;
        PyObject *other;
        Py_hash_t hash;
        while (_PySet_NextEntry(conts, &pos, &other, &hash)) {
            if (PyUnicode_Compare(other, base) == 0) continue;
            PyObject *s = PyDict_GetItemWithError(snap, other);
            if (s == NULL) { if (PyErr_Occurred()) { Py_DECREF(suffix); return -1; } continue; }
            if (PyTuple_GET_ITEM(s, 0) != cont) continue;
            if (append_change(out, other, suffix, text, elided, old) < 0) { Py_DECREF(suffix); return -1; }
        }
    }
    Py_DECREF(suffix);
    return 0;
}

/* Whether the event after a pure element-store line can be diffed here: every pend entry is a
   simple_store() with its key values, and every container name of the frame and every base is a
   plain local, a cell or a module-dict name. */
static int post_store_ok(Local *self, PyFrameObject *frame, PyObject *pend, PyObject *conts) {
    if (!PyList_CheckExact(pend) || !PyAnySet_CheckExact(conts)) return 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pend); i++) {
        PyObject *e = PyList_GET_ITEM(pend, i), *base, *kexprs;
        int one;
        if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 4) return 0;
        int k = simple_store(self, PyTuple_GET_ITEM(e, 0), &base, &kexprs, &one);
        if (k <= 0) return k;
        PyObject *keys = PyTuple_GET_ITEM(e, 2);
        if (!PyList_CheckExact(keys) || PyList_GET_SIZE(keys) != PyTuple_GET_SIZE(kexprs)) return 0;
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

/* elements.stored_into: the containers the line's stores wrote into (a new list), or Py_None
   (borrowed) when one of them cannot be reached. */
static PyObject *stored_into(PyObject *pend) {
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(pend); i++) {
        PyObject *e = PyList_GET_ITEM(pend, i), *keys = PyTuple_GET_ITEM(e, 2);
        PyObject *c = walk(PyTuple_GET_ITEM(e, 1), keys, PyList_GET_SIZE(keys) - 1);
        if (c == NULL) {
            Py_DECREF(out);
            return PyErr_Occurred() ? NULL : Py_None;
        }
        int rc = PyList_Append(out, c);
        Py_DECREF(c);
        if (rc < 0) { Py_DECREF(out); return NULL; }
    }
    return out;
}

/* elements._normal: negative list and tuple indices as the element they name (a new list) */
static PyObject *normal_keys(PyObject *cont, PyObject *keys) {
    Py_ssize_t n = PyList_GET_SIZE(keys);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    Py_INCREF(cont);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        Py_INCREF(key);
        if (cont != NULL && PyLong_CheckExact(key) && _PyLong_Sign(key) < 0 &&
            (PyList_CheckExact(cont) || PyTuple_CheckExact(cont))) {
            PyObject *len = PyLong_FromSsize_t(Py_SIZE(cont));
            PyObject *k2 = len ? PyNumber_Add(key, len) : NULL;
            Py_XDECREF(len);
            Py_SETREF(key, k2);
            if (key == NULL) { Py_XDECREF(cont); Py_DECREF(out); return NULL; }
        }
        PyList_SET_ITEM(out, i, key);
        if (cont != NULL) {  /* elements._item: into a list, tuple or dict only */
            PyObject *next = NULL;
            if (PyList_CheckExact(cont) || PyTuple_CheckExact(cont) || PyDict_CheckExact(cont)) {
                next = get_item(cont, key);
                if (next == NULL && PyErr_Occurred()) { Py_DECREF(cont); Py_DECREF(out); return NULL; }
            }
            Py_SETREF(cont, next);
        }
    }
    Py_XDECREF(cont);
    return out;
}

/* tracer._diff's lines for the event after a pure element-store line (see post_store_ok): the
   frame's containers that may have changed, then the element changes (elements.after). Appends to
   *changes; returns the extra byte count of the element changes, or -1 on error. */
/* render.same_visible(v, key, budget) for a list or tuple `v` whose snapshot key is `key`: 1 when
   the part of `v` its text shows is unchanged (tracer._check returns without a change then), 0
   when it may have changed or the key is of no known form (tracer._check decides), -1 on error. */
static int same_visible(PyObject *v, PyObject *key, Py_ssize_t k) {
    if (!PyTuple_CheckExact(key) || (PyTuple_GET_SIZE(key) != 2 && PyTuple_GET_SIZE(key) != 5)) return 0;
    Py_ssize_t n = Py_SIZE(v);
    PyObject *len = PyLong_FromSsize_t(n);
    if (len == NULL) return -1;
    int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(key, 0), len, Py_EQ);
    Py_DECREF(len);
    if (eq <= 0) return eq;
    PyObject *head_of = v, *head;
    if (PyTuple_GET_SIZE(key) == 5) { /* a table: (n, type(first), len(first), first, first[:k]) */
        if (n == 0) return 0;
        PyObject *first = PyList_CheckExact(v) ? PyList_GET_ITEM(v, 0) : PyTuple_GET_ITEM(v, 0);
        if (first != PyTuple_GET_ITEM(key, 3)) return 0;
        Py_ssize_t m = PyObject_Length(first);
        if (m < 0) return -1;
        PyObject *lm = PyLong_FromSsize_t(m);
        if (lm == NULL) return -1;
        eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(key, 2), lm, Py_EQ);
        Py_DECREF(lm);
        if (eq <= 0) return eq;
        head_of = first;
        head = PyTuple_GET_ITEM(key, 4);
    } else {
        head = PyTuple_GET_ITEM(key, 1);
    }
    if (Py_TYPE(head) == Py_TYPE(head_of) && (PyList_CheckExact(head) || PyTuple_CheckExact(head))) {
        /* head == head_of[:k], element by element (identity first, as list equality does) */
        Py_ssize_t m = Py_SIZE(head_of) < k ? Py_SIZE(head_of) : k;
        if (Py_SIZE(head) != m) return 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            PyObject *a = PySequence_Fast_ITEMS(head)[i], *b = PySequence_Fast_ITEMS(head_of)[i];
            if (a == b) continue;
            Py_INCREF(a);
            Py_INCREF(b);
            eq = PyObject_RichCompareBool(a, b, Py_EQ);
            Py_DECREF(a);
            Py_DECREF(b);
            if (eq <= 0) return eq;
            if (Py_SIZE(head_of) < m || Py_SIZE(head) != m) return 0; /* an __eq__ that resized them */
        }
        return 1;
    }
    PyObject *slice = PySequence_GetSlice(head_of, 0, k);
    if (slice == NULL) return -1;
    eq = PyObject_RichCompareBool(head, slice, Py_EQ);
    Py_DECREF(slice);
    return eq;
}

static Py_ssize_t post_store(Local *self, PyFrameObject *frame, PyObject *pend, PyObject **changes) {
    PyObject *fs = self->fs, *snap = SLOT(fs, F_snap), *conts = SLOT(fs, F_conts), *keys = SLOT(fs, F_keys);
    if (*changes == NULL && (*changes = new_changes()) == NULL) return -1;
    Py_ssize_t n = PyList_GET_SIZE(pend);
    Py_ssize_t head_len = PyLong_AsSsize_t(self->budget) / 3 + 1; /* render.same_visible's k */
    if (head_len == 0 && PyErr_Occurred()) return -1;
    PyObject *stored = stored_into(pend), *names = NULL;
    if (stored == NULL) return -1;
    Py_INCREF(stored);
    names = PySequence_List(conts); /* the set's own order, as `for name in fs.conts` */
    if (names == NULL) goto error;
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
        if (stored != Py_None) {
            PyObject *k = PyDict_GetItemWithError(keys, name);
            if (k == NULL && PyErr_Occurred()) goto error;
            if (k != NULL && PyTuple_Check(k) && PyTuple_GET_SIZE(k) == 2 && PyList_CheckExact(PyTuple_GET_ITEM(k, 1))) {
                int hit = 0;
                for (Py_ssize_t j = 0; j < PyList_GET_SIZE(stored); j++) hit |= PyList_GET_ITEM(stored, j) == v;
                if (!hit) continue; /* a list of atoms that no store of this line wrote into */
            }
        }
        if ((PyList_CheckExact(v) || PyTuple_CheckExact(v)) && PyUnicode_READ_CHAR(name, 0) != '.' &&
            !PyUnicode_Tailmatch(name, S_dunder, 0, 2, -1)) {
            /* tracer._check's first test for a list it has seen: is the visible head the same? */
            PyObject *k = PyDict_GetItemWithError(keys, name);
            if (k == NULL && PyErr_Occurred()) goto error;
            if (k != NULL && k != Py_None) {
                Py_INCREF(k);
                Py_INCREF(v);
                int same = same_visible(v, k, head_len);
                Py_DECREF(v);
                Py_DECREF(k);
                if (same < 0) goto error;
                if (same) continue;
            }
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
    Py_CLEAR(stored);
    set_slot(fs, F_epoch, PyList_GET_ITEM(self->epoch, 0));
    set_slot(fs, F_xepoch, PyList_GET_ITEM(self->xepoch, 0));
    /* elements.after */
    Py_ssize_t extra = 0;
    Py_INCREF(pend); /* fs.pend is dropped below */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(pend, i), *base = NULL, *kexprs = NULL;
        PyObject *st = PyTuple_GET_ITEM(e, 0), *cont = PyTuple_GET_ITEM(e, 1), *ks = PyTuple_GET_ITEM(e, 2);
        PyObject *old = PyTuple_GET_ITEM(e, 3);
        int one = 0;
        int k = simple_store(self, st, &base, &kexprs, &one);
        if (k < 0) goto error_pend;
        if (k == 0) continue; /* (post_store_ok saw a simple store: not reached) */
        Py_ssize_t p = name_place(self, frame, base);
        if (p == -4) goto error_pend;
        PyObject *now = lookup(self, frame, p, base);
        if (now == NULL && PyErr_Occurred()) goto error_pend;
        if (now != cont) continue; /* the name was rebound: its whole-value change tells it */
        PyObject *v = one ? get_item(cont, PyList_GET_ITEM(ks, 0)) : walk(cont, ks, PyList_GET_SIZE(ks));
        if (v == NULL) {
            if (PyErr_Occurred()) goto error_pend;
            continue;
        }
        PyObject *text;
        int elided;
        int rc = element_text(self, v, &text, &elided);
        Py_DECREF(v);
        if (rc < 0) goto error_pend;
        int differ = PyObject_RichCompareBool(text, old, Py_NE);
        if (differ < 0) { Py_DECREF(text); goto error_pend; }
        if (differ) {
            /* one_name: a negative index into a list; else elements._normal over the path */
            PyObject *path;
            if (one) {
                PyObject *key = PyList_GET_ITEM(ks, 0);
                Py_INCREF(key);
                if (PyLong_CheckExact(key) && PyList_CheckExact(cont) && _PyLong_Sign(key) < 0) {
                    PyObject *len = PyLong_FromSsize_t(PyList_GET_SIZE(cont));
                    Py_SETREF(key, len ? PyNumber_Add(key, len) : NULL);
                    Py_XDECREF(len);
                }
                path = key ? PyList_New(1) : NULL;
                if (path) PyList_SET_ITEM(path, 0, key);
                else Py_XDECREF(key);
            } else {
                path = normal_keys(cont, ks);
            }
            if (path == NULL) { Py_DECREF(text); goto error_pend; }
            Py_ssize_t before_n = PyList_GET_SIZE(*changes);
            rc = emit(self, *changes, base, cont, path, text, elided, old, snap, conts);
            Py_DECREF(path);
            if (rc < 0) { Py_DECREF(text); goto error_pend; }
            for (Py_ssize_t j = before_n; j < PyList_GET_SIZE(*changes); j++) {
                PyObject *c = PyList_GET_ITEM(*changes, j);
                extra += PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(c, 3)) + 8 +
                         (PyTuple_GET_ITEM(c, 4) == Py_None ? 0 : PyObject_Length(PyTuple_GET_ITEM(c, 4)));
            }
        }
        Py_DECREF(text);
    }
    set_slot(fs, F_pend, Py_None);
    Py_DECREF(pend);
    return extra;
error_pend:
    Py_DECREF(pend);
    return -1;
error:
    Py_XDECREF(names);
    Py_XDECREF(stored);
    return -1;
}
