"""What with-signing and with-keyless-signing accept, before any image is touched.

A verify that pins nobody would accept any Sigstore signature at all; a key without its password cannot sign.
"""

from __future__ import annotations

import pytest
from dojangkok.supply_chain import Signing, check_can_sign, check_signing_inputs

pytestmark = pytest.mark.unit

ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = r"^https://github.com/dojangkok/dojangkok/\.github/workflows/deploy\.yml@refs/heads/main$"
COMMIT = "ab" * 20


class Secret:  # stands in for a dagger.Secret: the checks only ask whether one was given
    pass


def test_keyless_verify_pins_the_signer_and_its_issuer_and_keeps_the_transparency_log():
    keyless = check_signing_inputs(Signing(identity=IDENTITY, issuer=ISSUER))
    flags = keyless.verify_flags()
    assert flags[flags.index("--certificate-identity-regexp") + 1] == IDENTITY
    assert flags[flags.index("--certificate-oidc-issuer") + 1] == ISSUER
    assert "--insecure-ignore-tlog" not in flags and "--key" not in flags
    assert "--tlog-upload=false" not in keyless.sign_flags()


@pytest.mark.parametrize("identity, issuer", [("", ISSUER), (IDENTITY, "")])
def test_keyless_without_a_pinned_identity_is_refused(identity, issuer):
    with pytest.raises(ValueError, match="verify must pin who may sign"):
        check_signing_inputs(Signing(identity=identity, issuer=issuer))


def test_a_key_without_its_password_is_refused():
    with pytest.raises(ValueError, match="--key and --password go together"):
        check_signing_inputs(Signing(public_key=Secret(), key=Secret()))


def test_verifying_only_cannot_publish_and_a_signed_publish_needs_the_full_commit():
    with pytest.raises(ValueError, match="publishing signed images needs"):
        check_can_sign(Signing(identity=IDENTITY, issuer=ISSUER), COMMIT, "", None)
    pair = Signing(public_key=Secret(), key=Secret(), password=Secret())
    with pytest.raises(ValueError, match="full 40-hex SHA"):
        check_can_sign(pair, COMMIT[:7], "", None)
    with pytest.raises(ValueError, match="needs with-registry --endpoint tcp://HOST:PORT"):
        check_can_sign(pair, COMMIT, "127.0.0.1:5000", None)
    check_can_sign(pair, COMMIT, "", None)
