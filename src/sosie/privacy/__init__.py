"""Differential privacy: budgets, the ledger, accounting conversions and noise.

DP generators (``aim``, ``mst``, ``dp_tabddpm``, ``dp_ctgan``) take ``epsilon`` and
``delta`` as required arguments, convert them to a zCDP budget ``rho``, and record every
mechanism they run in a :class:`PrivacyLedger` saved with the model
(``generator.privacy_spent_``) and shown in the data card and the report. Sampling is
post-processing and spends nothing.

* Accounting: zCDP, converted to and from (epsilon, delta) by Google's
  ``dp-accounting`` (see :func:`zcdp_to_epsilon`); DP-SGD steps (``dp_tabddpm``,
  ``dp_ctgan``) by opacus' RDP analysis composed with the zCDP measurements
  (:func:`rdp_epsilon`, :func:`sgd_noise_multiplier`). Needs the ``dp`` extra.
* Noise: :class:`NoiseSource` is either a seeded PRNG (reproducible, warns) or, with
  ``secure_mode=True``, the operating system's secure generator (refuses a seed).
* Schema: a DP generator uses only facts declared ``user`` or ``public``
  (:func:`check_public_schema`); it never learns bounds or categories from the data.

Example:
    >>> from sosie.privacy import PrivacyLedger, gaussian_sigma
    >>> ledger = PrivacyLedger(epsilon=1.0, delta=1e-6)
    >>> sigma = gaussian_sigma(ledger.rho_budget)   # one Gaussian count query
    >>> _ = ledger.spend(ledger.rho_budget, mechanism="gaussian", measured="the row count")
    >>> round(sigma, 2), round(ledger.epsilon_spent, 3)
    (4.53, 1.0)
"""

from ._accounting import (
    check_epsilon_delta,
    epsilon_delta_to_zcdp,
    exponential_epsilon,
    gaussian_sigma,
    rdp_epsilon,
    sgd_noise_multiplier,
    zcdp_to_delta,
    zcdp_to_epsilon,
)
from ._ledger import LedgerEntry, PrivacyLedger
from ._mechanisms import NoiseSource, exponential_mechanism, gaussian_mechanism
from ._schema import REQUIRED_FACTS, check_public_schema, declare_public, undeclared_facts

__all__ = [
    "REQUIRED_FACTS",
    "LedgerEntry",
    "NoiseSource",
    "PrivacyLedger",
    "check_epsilon_delta",
    "check_public_schema",
    "declare_public",
    "epsilon_delta_to_zcdp",
    "exponential_epsilon",
    "exponential_mechanism",
    "gaussian_mechanism",
    "gaussian_sigma",
    "rdp_epsilon",
    "sgd_noise_multiplier",
    "undeclared_facts",
    "zcdp_to_delta",
    "zcdp_to_epsilon",
]
