/* streams._batchhash: the bucketed Merkle batch of streams.merkle.batchtree, built in one C call.
 *
 * An optional accelerator. It computes exactly what the pure-Python path of
 * streams/merkle/batchtree.py computes, byte for byte (tests/unit/test_batchtree_native.py compares
 * the two on random batches); where it cannot be compiled (no C compiler, no OpenSSL or
 * Python headers) Bilat runs the Python path and says so (`bilat batcher`, the benchmark).
 *
 *   leaf_hashes(datas: list[bytes]) -> list[bytes]
 *       SHA-256(0x00 || data) of each leaf data (RFC 9162 leaf hash).
 *   build(keys: list[str], hashes: list[bytes], depth: int, salt: bytes)
 *         -> (order: bytes, offsets: bytes, bucket_hashes: list[bytes])
 *       Bucket each usage key (leading `depth` bits of BLAKE2b-64 keyed with `salt`, read
 *       big-endian), sort each bucket's leaves by leaf hash (ties: UTF-8 key bytes), and hash
 *       each bucket (RFC 9162 MTH of its sorted leaf hashes; SHA-256("") when empty).
 *       `order` holds native uint32 leaf indices, bucket by bucket, each bucket in sorted
 *       order; bucket b is order[offsets[b]:offsets[b+1]], offsets being 2**depth + 1 native
 *       uint32. Raises KeyError(key) for a usage key given twice, ValueError naming the key for
 *       a leaf hash that is not 32 bytes, TypeError for a key that is not str or a hash that is
 *       not bytes.
 *
 * SHA-256 is OpenSSL's (SHA-NI or AVX2 code where the CPU has it); BLAKE2b is written here from
 * RFC 7693. The GIL is held throughout: the inputs are borrowed from Python lists.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init & co: the cheapest calls in OpenSSL 3 */
#include <openssl/sha.h>

#define HASH 32

/* ---- BLAKE2b, RFC 7693 ------------------------------------------------------------------ */

static const uint64_t IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotr64(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load_le64(const uint8_t *p) {
    uint64_t r = 0;
    for (int i = 7; i >= 0; i--) r = (r << 8) | p[i];
    return r; /* compilers turn this into one load on little-endian machines */
}

/* G and a round of RFC 7693 §3.1, written over ADD, XOR and ROTn, which are defined twice
 * below: on uint64_t for b2b_compress, on AVX2 registers of four lanes for bucketer_hash4. */
#define G(r, i, a, b, c, d)                          \
    do {                                             \
        a = ADD(ADD(a, b), m[SIGMA[r][2 * i]]);      \
        d = ROT32(XOR(d, a));                        \
        c = ADD(c, d);                               \
        b = ROT24(XOR(b, c));                        \
        a = ADD(ADD(a, b), m[SIGMA[r][2 * i + 1]]);  \
        d = ROT16(XOR(d, a));                        \
        c = ADD(c, d);                               \
        b = ROT63(XOR(b, c));                        \
    } while (0)

#define ROUND(r)                          \
    do {                                  \
        G(r, 0, v0, v4, v8, v12);         \
        G(r, 1, v1, v5, v9, v13);         \
        G(r, 2, v2, v6, v10, v14);        \
        G(r, 3, v3, v7, v11, v15);        \
        G(r, 4, v0, v5, v10, v15);        \
        G(r, 5, v1, v6, v11, v12);        \
        G(r, 6, v2, v7, v8, v13);         \
        G(r, 7, v3, v4, v9, v14);         \
    } while (0)

#define ADD(a, b) ((a) + (b))
#define XOR(a, b) ((a) ^ (b))
#define ROT32(x) rotr64(x, 32)
#define ROT24(x) rotr64(x, 24)
#define ROT16(x) rotr64(x, 16)
#define ROT63(x) rotr64(x, 63)

/* F of RFC 7693 §3.2: compress one 128-byte block into h; t counts bytes (< 2**64 here). */
static void b2b_compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last) {
    uint64_t m[16];
    for (int i = 0; i < 16; i++) m[i] = load_le64(block + 8 * i);
    uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6],
             v7 = h[7], v8 = IV[0], v9 = IV[1], v10 = IV[2], v11 = IV[3], v12 = IV[4] ^ t,
             v13 = IV[5], v14 = last ? ~IV[6] : IV[6], v15 = IV[7];
    ROUND(0); ROUND(1); ROUND(2); ROUND(3); ROUND(4); ROUND(5);
    ROUND(6); ROUND(7); ROUND(8); ROUND(9); ROUND(10); ROUND(11);
    h[0] ^= v0 ^ v8; h[1] ^= v1 ^ v9; h[2] ^= v2 ^ v10; h[3] ^= v3 ^ v11;
    h[4] ^= v4 ^ v12; h[5] ^= v5 ^ v13; h[6] ^= v6 ^ v14; h[7] ^= v7 ^ v15;
}

/* Keyed BLAKE2b with an 8-byte digest, the key block absorbed once for all messages. */
typedef struct {
    uint64_t start[8];  /* parameter block xor IV */
    uint64_t keyed[8];  /* after compressing the key block as a non-final block */
    int has_key;
    uint8_t keyblock[128];
} bucketer;

static void bucketer_init(bucketer *b, const uint8_t *key, size_t keylen) {
    for (int i = 0; i < 8; i++) b->start[i] = IV[i];
    b->start[0] ^= 0x01010000ULL ^ ((uint64_t)keylen << 8) ^ 8; /* fanout, depth, keylen, 8 */
    b->has_key = keylen > 0;
    memset(b->keyblock, 0, sizeof b->keyblock);
    if (keylen) memcpy(b->keyblock, key, keylen);
    memcpy(b->keyed, b->start, sizeof b->keyed);
    if (keylen) b2b_compress(b->keyed, b->keyblock, 128, 0);
}

/* The digest's 8 bytes read big-endian, as int.from_bytes(digest, "big") does. */
static uint64_t bucketer_hash(const bucketer *b, const uint8_t *msg, size_t len) {
    uint64_t h[8];
    uint64_t t;
    uint8_t block[128];
    if (b->has_key && len == 0) { /* the key block is the last block */
        memcpy(h, b->start, sizeof h);
        b2b_compress(h, b->keyblock, 128, 1);
    } else {
        memcpy(h, b->has_key ? b->keyed : b->start, sizeof h);
        t = b->has_key ? 128 : 0;
        while (len > 128) {
            t += 128;
            b2b_compress(h, msg, t, 0);
            msg += 128;
            len -= 128;
        }
        memset(block, 0, sizeof block);
        memcpy(block, msg, len);
        b2b_compress(h, block, t + len, 1);
    }
    uint64_t out = 0;
    for (int i = 0; i < 8; i++) out = (out << 8) | ((h[0] >> (8 * i)) & 0xff);
    return out;
}

/* The bucketer's one-block case, the usual one: a message of 1..128 bytes after a key, or
 * 0..128 bytes without one; then the digest is the final compression of a single block. */
static inline int one_block(const bucketer *b, size_t len) {
    return len <= 128 && (len > 0 || !b->has_key);
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define HAVE_X4 1

#undef ADD
#undef XOR
#undef ROT32
#undef ROT24
#undef ROT16
#undef ROT63
#define ADD(a, b) _mm256_add_epi64(a, b)
#define XOR(a, b) _mm256_xor_si256(a, b)
#define ROT32(x) _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1))
#define ROT24(x) _mm256_shuffle_epi8(x, r24)
#define ROT16(x) _mm256_shuffle_epi8(x, r16)
#define ROT63(x) _mm256_or_si256(_mm256_srli_epi64(x, 63), _mm256_add_epi64(x, x))

/* bucketer_hash of four one-block messages at once, one per 64-bit lane of AVX2 registers:
 * the same arithmetic as b2b_compress, lane by lane. */
__attribute__((target("avx2"))) static void bucketer_hash4(const bucketer *b,
                                                           const uint8_t *msg[4],
                                                           const size_t len[4], uint64_t out[4]) {
    const __m256i r24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
                                         3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
    const __m256i r16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
                                         2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
    uint8_t block[4][128];
    uint64_t t[4];
    for (int k = 0; k < 4; k++) {
        memset(block[k], 0, 128);
        memcpy(block[k], msg[k], len[k]);
        t[k] = (b->has_key ? 128 : 0) + len[k];
    }
    __m256i m[16];
    for (int j = 0; j < 16; j++)
        m[j] = _mm256_setr_epi64x((long long)load_le64(block[0] + 8 * j),
                                  (long long)load_le64(block[1] + 8 * j),
                                  (long long)load_le64(block[2] + 8 * j),
                                  (long long)load_le64(block[3] + 8 * j));
    const uint64_t *h = b->has_key ? b->keyed : b->start;
    __m256i v0 = _mm256_set1_epi64x((long long)h[0]), v1 = _mm256_set1_epi64x((long long)h[1]),
            v2 = _mm256_set1_epi64x((long long)h[2]), v3 = _mm256_set1_epi64x((long long)h[3]),
            v4 = _mm256_set1_epi64x((long long)h[4]), v5 = _mm256_set1_epi64x((long long)h[5]),
            v6 = _mm256_set1_epi64x((long long)h[6]), v7 = _mm256_set1_epi64x((long long)h[7]),
            v8 = _mm256_set1_epi64x((long long)IV[0]), v9 = _mm256_set1_epi64x((long long)IV[1]),
            v10 = _mm256_set1_epi64x((long long)IV[2]), v11 = _mm256_set1_epi64x((long long)IV[3]),
            v12 = XOR(_mm256_set1_epi64x((long long)IV[4]),
                      _mm256_setr_epi64x((long long)t[0], (long long)t[1], (long long)t[2],
                                         (long long)t[3])),
            v13 = _mm256_set1_epi64x((long long)IV[5]),
            v14 = _mm256_set1_epi64x((long long)~IV[6]), /* the last block */
            v15 = _mm256_set1_epi64x((long long)IV[7]);
    ROUND(0); ROUND(1); ROUND(2); ROUND(3); ROUND(4); ROUND(5);
    ROUND(6); ROUND(7); ROUND(8); ROUND(9); ROUND(10); ROUND(11);
    uint64_t h0[4];
    _mm256_storeu_si256((__m256i *)h0, XOR(_mm256_set1_epi64x((long long)h[0]), XOR(v0, v8)));
    for (int k = 0; k < 4; k++) {
        uint64_t d = 0;
        for (int i = 0; i < 8; i++) d = (d << 8) | ((h0[k] >> (8 * i)) & 0xff);
        out[k] = d;
    }
}
#endif

/* The bytes of a key that choose its bucket: up to its first '|' (the correlation part of a
 * key that has one, streams.merkle.buckets.bucket_key), else all of it. */
static inline size_t bucket_len(const char *key, Py_ssize_t keylen) {
    const char *bar = memchr(key, '|', (size_t)keylen);
    return bar == NULL ? (size_t)keylen : (size_t)(bar - key);
}

/* digest[i] = bucketer_hash(bucket bytes of key i) for every leaf; four at a time where the
 * CPU has AVX2. */
static void bucket_all(const bucketer *b, const char **key, const Py_ssize_t *keylen,
                       uint64_t *digest, size_t n) {
    size_t i = 0;
#ifdef HAVE_X4
    if (__builtin_cpu_supports("avx2")) {
        const uint8_t *msg[4];
        size_t len[4], at[4];
        int ready = 0;
        for (; i < n; i++) {
            size_t bl = bucket_len(key[i], keylen[i]);
            if (!one_block(b, bl)) {
                digest[i] = bucketer_hash(b, (const uint8_t *)key[i], bl);
                continue;
            }
            msg[ready] = (const uint8_t *)key[i];
            len[ready] = bl;
            at[ready++] = i;
            if (ready == 4) {
                uint64_t out[4];
                bucketer_hash4(b, msg, len, out);
                for (int k = 0; k < 4; k++) digest[at[k]] = out[k];
                ready = 0;
            }
        }
        for (int k = 0; k < ready; k++)
            digest[at[k]] = bucketer_hash(b, msg[k], len[k]);
        return;
    }
#endif
    for (; i < n; i++)
        digest[i] = bucketer_hash(b, (const uint8_t *)key[i], bucket_len(key[i], keylen[i]));
}

/* The bucket of a key: the digest's leading `depth` bits (a shift by 64 is undefined in C). */
static inline size_t bucket_index(uint64_t digest, int depth) {
    return depth ? (size_t)(digest >> (64 - depth)) : 0;
}

/* ---- RFC 9162 hashing ------------------------------------------------------------------- */

static void leaf_hash(const uint8_t *data, size_t len, uint8_t out[HASH]) {
    static const uint8_t zero = 0;
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, &zero, 1);
    SHA256_Update(&c, data, len);
    SHA256_Final(out, &c);
}

/* MTH (RFC 9162 §2.1.1) of n hashes, overwriting them: pairs hashed bottom-up, an odd last
 * node promoted, which builds the same tree as splitting at the largest power of two. */
static void mth(uint8_t *hashes, size_t n, uint8_t out[HASH]) {
    SHA256_CTX c;
    if (n == 0) {
        SHA256_Init(&c);
        SHA256_Final(out, &c);
        return;
    }
    uint8_t buf[1 + 2 * HASH];
    buf[0] = 1;
    while (n > 1) {
        size_t up = 0;
        for (size_t i = 0; i + 1 < n; i += 2, up++) {
            memcpy(buf + 1, hashes + HASH * i, 2 * HASH);
            SHA256_Init(&c);
            SHA256_Update(&c, buf, sizeof buf);
            SHA256_Final(hashes + HASH * up, &c);
        }
        if (n & 1) memmove(hashes + HASH * up++, hashes + HASH * (n - 1), HASH);
        n = up;
    }
    memcpy(out, hashes, HASH);
}

/* ---- sorting a bucket: by leaf hash, ties by key bytes ---------------------------------- */

typedef struct {
    uint64_t prefix; /* the leaf hash's first 8 bytes, big-endian: orders like memcmp */
    uint32_t index;
} entry;

typedef struct {
    const uint8_t **hash;
    const char **key;
    Py_ssize_t *keylen;
} leaves;

static int key_cmp(const leaves *L, uint32_t a, uint32_t b) {
    Py_ssize_t la = L->keylen[a], lb = L->keylen[b];
    int c = memcmp(L->key[a], L->key[b], (size_t)(la < lb ? la : lb));
    return c ? c : (la > lb) - (la < lb);
}

static inline int entry_less(const leaves *L, const entry *a, const entry *b) {
    if (a->prefix != b->prefix) return a->prefix < b->prefix;
    int c = memcmp(L->hash[a->index], L->hash[b->index], HASH);
    if (c) return c < 0;
    return key_cmp(L, a->index, b->index) < 0;
}

static void insertion_sort(const leaves *L, entry *e, size_t n) {
    for (size_t i = 1; i < n; i++) {
        entry x = e[i];
        size_t j = i;
        while (j > 0 && entry_less(L, &x, &e[j - 1])) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
}

/* Quicksort, Hoare partition around a median of three (equal elements split evenly), the
 * smaller side recursed; leaf hashes are SHA-256 outputs, so the input is never adversarial
 * in order, and runs of equal hashes still cost O(n log n). */
static void sort_entries(const leaves *L, entry *e, size_t n) {
    while (n > 16) {
        size_t mid = n / 2;
        entry *a = &e[0], *b = &e[mid], *c = &e[n - 1];
        entry *med = entry_less(L, a, b) ? (entry_less(L, b, c) ? b : (entry_less(L, a, c) ? c : a))
                                         : (entry_less(L, a, c) ? a : (entry_less(L, b, c) ? c : b));
        entry pivot = *med;
        size_t i = 0, j = n - 1;
        for (;;) {
            while (entry_less(L, &e[i], &pivot)) i++;
            while (entry_less(L, &pivot, &e[j])) j--;
            if (i >= j) break;
            entry tmp = e[i];
            e[i] = e[j];
            e[j] = tmp;
            i++;
            j--;
        }
        size_t left = j + 1; /* e[0..j] <= pivot <= e[j+1..n) */
        if (left < n - left) {
            sort_entries(L, e, left);
            e += left;
            n -= left;
        } else {
            sort_entries(L, e + left, n - left);
            n = left;
        }
    }
    insertion_sort(L, e, n);
}

/* A bucket's leaf hashes are uniform (SHA-256 outputs, independent of the bucket), so one
 * counting pass on their leading bits leaves about one entry per sub-range; each sub-range is
 * then sorted by sort_entries (insertion sort when small, so equal hashes stay O(n log n)).
 * `spare` holds m entries, `counts` 2**r + 1 counters with 2**r the power of two >= m. */
static void sort_bucket(const leaves *L, entry *e, size_t m, entry *spare, uint32_t *counts) {
    if (m <= 16) {
        insertion_sort(L, e, m);
        return;
    }
    unsigned r = 1;
    while (((size_t)1 << r) < m) r++;
    size_t ranges = (size_t)1 << r;
    memset(counts, 0, (ranges + 1) * sizeof *counts);
    for (size_t i = 0; i < m; i++) counts[(e[i].prefix >> (64 - r)) + 1]++;
    for (size_t k = 0; k < ranges; k++) counts[k + 1] += counts[k];
    for (size_t i = 0; i < m; i++) spare[counts[e[i].prefix >> (64 - r)]++] = e[i];
    /* counts[k] is now the end of range k, the start of range k + 1 */
    size_t start = 0;
    for (size_t k = 0; k < ranges; k++) {
        size_t end = counts[k];
        if (end - start > 1) sort_entries(L, spare + start, end - start);
        start = end;
    }
    memcpy(e, spare, m * sizeof *e);
}

/* ---- Python API ------------------------------------------------------------------------- */

static PyObject *py_leaf_hashes(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *seq = PySequence_Fast(arg, "leaf_hashes: want a list of bytes");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "leaf data %zd: got %.100s, want bytes", i,
                         Py_TYPE(items[i])->tp_name);
            goto fail;
        }
        uint8_t h[HASH];
        leaf_hash((const uint8_t *)PyBytes_AS_STRING(items[i]), (size_t)PyBytes_GET_SIZE(items[i]), h);
        PyObject *b = PyBytes_FromStringAndSize((const char *)h, HASH);
        if (b == NULL) goto fail;
        PyList_SET_ITEM(out, i, b);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

typedef struct {
    uint64_t *digest;   /* per leaf: keyed BLAKE2b-64 of the key */
    uint32_t *offsets;  /* per bucket: first position in entries; then the total */
    entry *entries;     /* bucket by bucket */
    uint32_t *slots;    /* duplicate-key table of the largest bucket: index + 1, 0 = free */
    entry *spare;       /* the largest bucket's entries, while sorting */
    uint32_t *counts;   /* sort_bucket's counters */
    uint8_t *work;      /* the sorted leaf hashes of one bucket, hashed in place */
    leaves L;
} scratch;

static void scratch_free(scratch *s) {
    free(s->digest);
    free(s->offsets);
    free(s->entries);
    free(s->slots);
    free(s->spare);
    free(s->counts);
    free(s->work);
    free((void *)s->L.hash);
    free((void *)s->L.key);
    free(s->L.keylen);
}

/* Read every key and hash, bucket the keys, count the buckets. 0, or -1 with an exception. */
static int read_leaves(scratch *s, PyObject **keys, PyObject **hashes, size_t n, int depth,
                       const bucketer *bk) {
    for (size_t i = 0; i < n; i++) {
        if (!PyUnicode_Check(keys[i])) {
            PyErr_Format(PyExc_TypeError, "usage key %zu: got %.100s, want str", i,
                         Py_TYPE(keys[i])->tp_name);
            return -1;
        }
        if (!PyBytes_Check(hashes[i])) {
            PyErr_Format(PyExc_TypeError, "leaf hash of %R: got %.100s, want bytes", keys[i],
                         Py_TYPE(hashes[i])->tp_name);
            return -1;
        }
        if (PyBytes_GET_SIZE(hashes[i]) != HASH) {
            PyErr_Format(PyExc_ValueError, "leaf hash of %R: got %zd bytes, want %d", keys[i],
                         PyBytes_GET_SIZE(hashes[i]), HASH);
            return -1;
        }
        const char *k = PyUnicode_AsUTF8AndSize(keys[i], &s->L.keylen[i]);
        if (k == NULL) return -1;
        s->L.key[i] = k;
        s->L.hash[i] = (const uint8_t *)PyBytes_AS_STRING(hashes[i]);
    }
    bucket_all(bk, s->L.key, s->L.keylen, s->digest, n);
    for (size_t i = 0; i < n; i++) s->offsets[bucket_index(s->digest[i], depth)]++;
    return 0;
}

/* 0, or -1 with KeyError(key) set if two leaves of this bucket have one key. */
static int check_unique(scratch *s, PyObject **keys, const entry *e, size_t n) {
    size_t cap = 16; /* a table at most half full: s->slots holds enough for the largest */
    while (cap < 2 * n) cap <<= 1;
    size_t mask = cap - 1;
    memset(s->slots, 0, cap * sizeof *s->slots);
    for (size_t i = 0; i < n; i++) {
        uint32_t idx = e[i].index;
        size_t slot = (size_t)s->digest[idx] & mask;
        while (s->slots[slot]) {
            uint32_t other = s->slots[slot] - 1;
            if (s->digest[other] == s->digest[idx] && key_cmp(&s->L, other, idx) == 0) {
                PyErr_SetObject(PyExc_KeyError, keys[idx]);
                return -1;
            }
            slot = (slot + 1) & mask;
        }
        s->slots[slot] = idx + 1;
    }
    return 0;
}

static PyObject *py_build(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *key_list, *hash_list;
    int depth;
    const char *salt;
    Py_ssize_t saltlen;
    if (!PyArg_ParseTuple(args, "O!O!iy#", &PyList_Type, &key_list, &PyList_Type, &hash_list,
                          &depth, &salt, &saltlen))
        return NULL;
    if (depth < 0 || depth > 16 || saltlen > 64) {
        PyErr_Format(PyExc_ValueError, "depth %d, salt of %zd bytes: want 0..16, at most 64",
                     depth, saltlen);
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(key_list);
    if (PyList_GET_SIZE(hash_list) != count) {
        PyErr_Format(PyExc_ValueError, "%zd keys but %zd leaf hashes", count,
                     PyList_GET_SIZE(hash_list));
        return NULL;
    }
    if ((size_t)count >= UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "at most 2**32 - 2 leaves in a batch");
        return NULL;
    }
    size_t n = (size_t)count, buckets = (size_t)1 << depth;
    PyObject **keys = PySequence_Fast_ITEMS(key_list), **hashes = PySequence_Fast_ITEMS(hash_list);
    PyObject *order = NULL, *offsets = NULL, *roots = NULL, *result = NULL;
    scratch s = {0};
    size_t alloc = n ? n : 1;
    s.digest = malloc(alloc * sizeof *s.digest);
    s.offsets = calloc(buckets + 1, sizeof *s.offsets);
    s.entries = malloc(alloc * sizeof *s.entries);
    s.L.hash = malloc(alloc * sizeof *s.L.hash);
    s.L.key = malloc(alloc * sizeof *s.L.key);
    s.L.keylen = malloc(alloc * sizeof *s.L.keylen);
    if (!s.digest || !s.offsets || !s.entries || !s.L.hash || !s.L.key || !s.L.keylen) {
        PyErr_NoMemory();
        goto done;
    }
    bucketer bk;
    bucketer_init(&bk, (const uint8_t *)salt, (size_t)saltlen);
    if (read_leaves(&s, keys, hashes, n, depth, &bk) < 0) goto done;

    /* Counting sort by bucket (counts -> first positions), stable in input order. */
    size_t largest = 0, at = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t c = s.offsets[b];
        if (c > largest) largest = c;
        s.offsets[b] = (uint32_t)at;
        at += c;
    }
    s.offsets[buckets] = (uint32_t)n;
    {
        uint32_t *next = malloc((buckets ? buckets : 1) * sizeof *next);
        if (next == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        memcpy(next, s.offsets, buckets * sizeof *next);
        for (size_t i = 0; i < n; i++) {
            size_t b = bucket_index(s.digest[i], depth);
            const uint8_t *h = s.L.hash[i];
            uint64_t prefix = 0;
            for (int j = 0; j < 8; j++) prefix = (prefix << 8) | h[j];
            s.entries[next[b]++] = (entry){prefix, (uint32_t)i};
        }
        free(next);
    }

    size_t cap = 16;
    while (cap < 2 * largest) cap <<= 1;
    s.slots = malloc(cap * sizeof *s.slots);
    s.work = malloc((largest ? largest : 1) * HASH);
    s.spare = malloc((largest ? largest : 1) * sizeof *s.spare);
    s.counts = malloc((cap + 1) * sizeof *s.counts); /* cap >= the ranges of sort_bucket */
    roots = PyList_New((Py_ssize_t)buckets);
    if (!s.slots || !s.work || !s.spare || !s.counts || roots == NULL) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    for (size_t b = 0; b < buckets; b++) {
        entry *e = s.entries + s.offsets[b];
        size_t m = s.offsets[b + 1] - s.offsets[b];
        if (check_unique(&s, keys, e, m) < 0) goto done;
        sort_bucket(&s.L, e, m, s.spare, s.counts);
        for (size_t i = 0; i < m; i++) memcpy(s.work + HASH * i, s.L.hash[e[i].index], HASH);
        uint8_t root[HASH];
        mth(s.work, m, root);
        PyObject *r = PyBytes_FromStringAndSize((const char *)root, HASH);
        if (r == NULL) goto done;
        PyList_SET_ITEM(roots, (Py_ssize_t)b, r);
    }

    order = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(uint32_t)));
    offsets = PyBytes_FromStringAndSize((const char *)s.offsets,
                                        (Py_ssize_t)((buckets + 1) * sizeof(uint32_t)));
    if (order == NULL || offsets == NULL) goto done;
    uint32_t *out = (uint32_t *)PyBytes_AS_STRING(order);
    for (size_t i = 0; i < n; i++) out[i] = s.entries[i].index;
    result = PyTuple_Pack(3, order, offsets, roots);
done:
    scratch_free(&s);
    Py_XDECREF(order);
    Py_XDECREF(offsets);
    Py_XDECREF(roots);
    return result;
}

static PyMethodDef methods[] = {
    {"leaf_hashes", py_leaf_hashes, METH_O,
     "leaf_hashes(datas: list[bytes]) -> list[bytes]: SHA-256(0x00 || data) of each."},
    {"build", py_build, METH_VARARGS,
     "build(keys, hashes, depth, salt) -> (order, offsets, bucket_hashes); see the module."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "streams.merkle._batchhash",
    .m_doc = "Native build of the bucketed Merkle batch (see streams/merkle/batchtree.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__batchhash(void) { return PyModule_Create(&module); }
