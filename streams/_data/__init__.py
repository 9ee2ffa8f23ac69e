"""Package data: the files Bilat reads at run time, shipped inside the package.

In the checkout each entry is a symbolic link to the folder at the top of the repository,
where it is edited and reviewed; a wheel holds real copies (``[tool.setuptools.package-data]``
in pyproject.toml). Read them only through :mod:`streams.core.resources`.

* ``schemas/``  → ``schemas/``: the Avro contract, ``<subject>/v<N>.avsc``
* ``examples/`` → ``examples/``: the example agreement, the default ``BILAT_AGREEMENT``
* ``mef/``      → ``specs/mef/``: the MEF LSO Sonata OpenAPI files
* ``deploy/``   → ``deploy/local/``: the Kafka pom and log4j2 config of ``bilat up``
"""
