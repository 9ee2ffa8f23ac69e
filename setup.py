"""The one thing pyproject.toml cannot say without an experimental table: the C extensions.

``streams.merkle._batchhash`` (streams/merkle/_batchhash.c) builds Merkle batches in one C
call; ``streams.contract._flatavro`` (streams/contract/_flatavro.c) reads and writes flat Avro
record bodies, the rating worker's per-message decode and encode. Both are optional: without a
C compiler, OpenSSL or Python headers the install still succeeds and the same results come from
pure Python (``streams.merkle.batchtree.NATIVE`` and ``streams.contract.flat.NATIVE`` say which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "streams.merkle._batchhash",
            sources=["streams/merkle/_batchhash.c"],
            libraries=["crypto"],  # OpenSSL's SHA-256
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "streams.contract._flatavro",
            sources=["streams/contract/_flatavro.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
    ]
)
