"""The ground every other package stands on: encoding, keys, errors, time, units.

Pure: imports no Kafka, Faust, Redis or HTTP client, and no other ``streams`` package.

* :mod:`~streams.core.canonical`: the one canonical encoding, the only input to hashing and
  signing, with domain tags.
* :mod:`~streams.core.clock`: injected UTC time (:class:`~streams.core.clock.Clock`, a manual
  clock for tests).
* :mod:`~streams.core.errors`: the one exception root, :class:`~streams.core.errors.BilatError`,
  and its documented subclasses.
* :mod:`~streams.core.keys`: the parties' Ed25519 keys: generate, save, load, sign, verify.
* :mod:`~streams.core.redact`: credentials never leave the process in what Bilat prints or logs.
* :mod:`~streams.core.resources`: where the files Bilat ships beside its code are (schemas, the
  example agreement, specs), installed or in a checkout.
* :mod:`~streams.core.units`: products, the units usage is reported and priced in, base units,
  directions.
"""
