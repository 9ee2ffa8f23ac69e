"""The one thing pyproject.toml cannot say without an experimental table: the C extension.

``streams._batchhash`` (streams/_batchhash.c) builds Merkle batches in one C call. It is
optional: without a C compiler, OpenSSL or Python headers the install still succeeds and
streams.batchtree builds the same trees in pure Python (``streams.batchtree.NATIVE`` says which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "streams._batchhash",
            sources=["streams/_batchhash.c"],
            libraries=["crypto"],  # OpenSSL's SHA-256
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
