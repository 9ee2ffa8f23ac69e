/* streams.contract._flatavro: flat Avro record bodies read and written in one C call.
 *
 * An optional accelerator of streams/contract/flat.py. Each function returns exactly what its
 * pure-Python twin there returns, for any input (tests/unit/contract/test_flat.py compares the
 * two on generated records, damaged messages and random bytes); where it cannot be compiled,
 * Bilat runs the Python code and `flat.NATIVE` says so.
 *
 *   read(layout, data: bytes, offset: int) -> dict | None
 *       The record whose body is data[offset:], or None for any body it does not read: a
 *       length or union index that is not one canonical byte, a long of more than nine
 *       bytes, text that is not UTF-8, a truncated body, trailing bytes.
 *   write(layout, values: tuple) -> bytes | None
 *       The body of `values` (one per field, in layout order), or None as soon as a value is
 *       not of its field's exact type: str, bytes, or int within 64 bits (not bool), each
 *       field optional or not; None also for text that cannot be UTF-8 (a lone surrogate).
 *
 * A layout is a tuple of (name: str, kind: int, optional: bool) with the kinds of flat.py:
 * 0 string, 1 bytes, 2 long. The GIL is held throughout.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { STRING = 0, BYTES = 1, LONG = 2 };

/* One field of a layout, unpacked; -1 with an exception set for a malformed layout. */
static int field_of(PyObject *layout, Py_ssize_t i, PyObject **name, long *kind, int *optional) {
    PyObject *field = PyTuple_GET_ITEM(layout, i);
    if (!PyTuple_CheckExact(field) || PyTuple_GET_SIZE(field) != 3) {
        PyErr_SetString(PyExc_TypeError, "layout: want (name, kind, optional) tuples");
        return -1;
    }
    *name = PyTuple_GET_ITEM(field, 0);
    *kind = PyLong_AsLong(PyTuple_GET_ITEM(field, 1));
    if (*kind == -1 && PyErr_Occurred()) return -1;
    if (*kind < STRING || *kind > LONG) {
        PyErr_SetString(PyExc_ValueError, "layout: kind must be 0, 1 or 2");
        return -1;
    }
    *optional = PyObject_IsTrue(PyTuple_GET_ITEM(field, 2));
    return *optional < 0 ? -1 : 0;
}

static PyObject *flat_read(PyObject *self, PyObject *args) {
    PyObject *layout;
    Py_buffer view;
    Py_ssize_t offset;
    if (!PyArg_ParseTuple(args, "O!y*n", &PyTuple_Type, &layout, &view, &offset)) return NULL;
    const uint8_t *data = view.buf;
    const Py_ssize_t end = view.len;
    Py_ssize_t pos = offset;
    PyObject *record = PyDict_New();
    if (record == NULL) goto error;
    if (pos < 0) goto refuse;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(layout); i++) {
        PyObject *name, *value;
        long kind;
        int optional;
        if (field_of(layout, i, &name, &kind, &optional) < 0) goto error;
        if (optional) {
            if (pos >= end) goto refuse;
            uint8_t branch = data[pos++];
            if (branch == 0) { /* zig-zag 0: the "null" branch */
                if (PyDict_SetItem(record, name, Py_None) < 0) goto error;
                continue;
            }
            if (branch != 2) goto refuse; /* zig-zag 1 is the value's branch */
        }
        if (kind == LONG) { /* zig-zag, base-128 little-endian varint of at most nine bytes */
            uint64_t n = 0;
            int shift = 0;
            uint8_t byte;
            do {
                if (shift == 63 || pos >= end) goto refuse;
                byte = data[pos++];
                n |= (uint64_t)(byte & 0x7F) << shift;
                shift += 7;
            } while (byte & 0x80);
            value = PyLong_FromLongLong((long long)(n >> 1) ^ -(long long)(n & 1));
        } else {
            if (pos >= end) goto refuse;
            uint8_t size = data[pos++];
            if (size > 0x7F || (size & 1)) goto refuse; /* a longer length, or a negative one */
            Py_ssize_t length = size >> 1;
            if (length > end - pos) goto refuse;
            if (kind == STRING) {
                value = PyUnicode_DecodeUTF8((const char *)data + pos, length, "strict");
                if (value == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    PyErr_Clear();
                    goto refuse;
                }
            } else {
                value = PyBytes_FromStringAndSize((const char *)data + pos, length);
            }
            pos += length;
        }
        if (value == NULL) goto error;
        int failed = PyDict_SetItem(record, name, value);
        Py_DECREF(value);
        if (failed < 0) goto error;
    }
    if (pos != end) goto refuse; /* trailing bytes */
    PyBuffer_Release(&view);
    return record;
refuse:
    PyBuffer_Release(&view);
    Py_DECREF(record);
    Py_RETURN_NONE;
error:
    PyBuffer_Release(&view);
    Py_XDECREF(record);
    return NULL;
}

/* A growing output buffer: a stack array first, the heap past it. */
typedef struct {
    uint8_t *buf;
    Py_ssize_t len, cap;
    uint8_t small[512];
} Out;

static int out_reserve(Out *out, Py_ssize_t more) {
    if (out->len + more <= out->cap) return 0;
    Py_ssize_t cap = out->cap * 2 > out->len + more ? out->cap * 2 : out->len + more;
    uint8_t *buf = out->buf == out->small ? PyMem_Malloc(cap) : PyMem_Realloc(out->buf, cap);
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (out->buf == out->small) memcpy(buf, out->small, out->len);
    out->buf = buf;
    out->cap = cap;
    return 0;
}

static int out_varint(Out *out, uint64_t n) {
    if (out_reserve(out, 10) < 0) return -1;
    while (n > 0x7F) {
        out->buf[out->len++] = (uint8_t)(n & 0x7F) | 0x80;
        n >>= 7;
    }
    out->buf[out->len++] = (uint8_t)n;
    return 0;
}

static int out_bytes(Out *out, const char *data, Py_ssize_t length) {
    if (out_varint(out, (uint64_t)length << 1) < 0 || out_reserve(out, length) < 0) return -1;
    memcpy(out->buf + out->len, data, length);
    out->len += length;
    return 0;
}

/* 1 written, 0 the value does not fit its field, -1 an exception. */
static int write_value(Out *out, PyObject *value, long kind) {
    if (kind == LONG) {
        if (!PyLong_CheckExact(value)) return 0;
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) return 0;
        if (x == -1 && PyErr_Occurred()) return -1;
        return out_varint(out, ((uint64_t)x << 1) ^ (uint64_t)(x >> 63)) < 0 ? -1 : 1;
    }
    if (kind == STRING) {
        if (!PyUnicode_CheckExact(value)) return 0;
        Py_ssize_t length;
        const char *text = PyUnicode_AsUTF8AndSize(value, &length);
        if (text == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
            PyErr_Clear(); /* a lone surrogate: not Avro text */
            return 0;
        }
        return out_bytes(out, text, length) < 0 ? -1 : 1;
    }
    if (!PyBytes_CheckExact(value)) return 0;
    return out_bytes(out, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value)) < 0 ? -1 : 1;
}

static PyObject *flat_write(PyObject *self, PyObject *args) {
    PyObject *layout, *values, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!O!", &PyTuple_Type, &layout, &PyTuple_Type, &values))
        return NULL;
    Out out;
    out.buf = out.small;
    out.len = 0;
    out.cap = sizeof out.small;
    if (PyTuple_GET_SIZE(values) != PyTuple_GET_SIZE(layout)) goto refuse;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(layout); i++) {
        PyObject *name, *value = PyTuple_GET_ITEM(values, i);
        long kind;
        int optional;
        if (field_of(layout, i, &name, &kind, &optional) < 0) goto done;
        if (optional) {
            if (out_reserve(&out, 1) < 0) goto done;
            out.buf[out.len++] = value == Py_None ? 0 : 2;
            if (value == Py_None) continue;
        }
        int written = write_value(&out, value, kind);
        if (written < 0) goto done;
        if (written == 0) goto refuse;
    }
    result = PyBytes_FromStringAndSize((const char *)out.buf, out.len);
    goto done;
refuse:
    result = Py_NewRef(Py_None);
done:
    if (out.buf != out.small) PyMem_Free(out.buf);
    return result;
}

static PyMethodDef methods[] = {
    {"read", flat_read, METH_VARARGS, "read(layout, data, offset) -> dict | None"},
    {"write", flat_write, METH_VARARGS, "write(layout, values) -> bytes | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_flatavro", "Flat Avro record bodies (streams/contract/flat.py).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__flatavro(void) { return PyModule_Create(&module); }
