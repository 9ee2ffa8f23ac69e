"""The one thing pyproject.toml cannot say without an experimental table: the C extension.

``streams.merkle._batchhash`` (streams/merkle/_batchhash.c) builds Merkle batches in one C
call. It is optional: without a C compiler, OpenSSL or Python headers the install still
succeeds and ``streams.merkle.batchtree`` builds the same trees in pure Python (its ``NATIVE``
says which).
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
        )
    ]
)
