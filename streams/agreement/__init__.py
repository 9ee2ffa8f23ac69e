"""The bilateral agreement: its terms as frozen values, read from YAML, signed by both parties.

Pure: imports no Kafka, Faust, Redis or HTTP client.

* :mod:`~streams.agreement.model`: the agreement, its versions (the book) and every term, as
  frozen values with a canonical hash.
* :mod:`~streams.agreement.loader`: an agreement YAML file into the model, every problem reported
  with its path.
* :mod:`~streams.agreement.yaml_reader`: YAML parser events into plain values, refusing anchors,
  aliases, tags and duplicate keys, bounded in size and depth.
* :mod:`~streams.agreement.terms`: each term's text by its own rule (decimals, counts, ids,
  currencies, time zones, times).
* :mod:`~streams.agreement.timebands`: time-of-day and day-of-week bands in the agreement's time
  zone.
* :mod:`~streams.agreement.signing`: both parties' signatures over the agreement's book hash;
  refused signing raises :class:`~streams.core.errors.AgreementSigningError`.
* :mod:`~streams.agreement.trust`: which Ed25519 keys may sign for which party, and when.
"""
