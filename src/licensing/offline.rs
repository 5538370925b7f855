//! Offline activation: an activation request written by the software on a machine that never
//! reaches the service becomes a signed response (the machine's license, the request's nonce,
//! the machine's digest and the key of its deactivation proof); a deactivation proof carried
//! back frees the seat. Activation itself is the one of `POST /v1/activate`: the same machine
//! gets the same license, and the same request the same response, byte for byte (so the answer
//! does not say whether the machine had its license already).
//!
//! The deactivation key is derived, not stored: SHA-256 over the issuer's Ed25519 signature of
//! the license id under its own domain. Only the holder of the signing key can derive it; a key
//! rotation makes earlier proofs unreadable (the merchant frees such seats).

use chrono::{DateTime, Utc};
use koolicense_verify::{
    armor_activation_response, deactivation_tag, ActivationRequest, ActivationResponse,
    DeactivationProof, DEACTIVATION_KEY_LEN,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::activation::Activated;
use super::seats::{Deactivated, FreedBy};
use super::{Licensing, LicensingError};

const KEY_DOMAIN: &[u8] = b"koolicense/offline-deactivation-key/v1\0";

/// The answer to an offline activation request.
#[derive(Debug, Clone)]
pub(crate) struct OfflineAnswer {
    /// The armoured signed response to carry back.
    pub(crate) response: String,
    pub(crate) license_id: String,
}

impl Licensing {
    fn deactivation_key(&self, license_id: &str) -> [u8; DEACTIVATION_KEY_LEN] {
        let mut message = KEY_DOMAIN.to_vec();
        message.extend_from_slice(license_id.as_bytes());
        let signature = self.signer.sign_raw(&message);
        let mut hasher = Sha256::new();
        hasher.update(KEY_DOMAIN);
        hasher.update(signature);
        hasher.finalize().into()
    }

    /// Reads an offline activation request (`POST /v1/activate/offline`, `koolicense activate
    /// --offline`); its code is then activated for its machine like `POST /v1/activate` does.
    pub(crate) fn read_activation_request(
        &self,
        request: &str,
    ) -> Result<ActivationRequest, LicensingError> {
        ActivationRequest::parse(request)
            .map_err(|e| LicensingError::Invalid(format!("activation request: {e}")))
    }

    /// The signed response to `request`, carrying the license its activation gave the machine.
    pub(crate) fn activation_response(
        &self,
        request: &ActivationRequest,
        activated: Activated,
    ) -> OfflineAnswer {
        let response = ActivationResponse {
            nonce: request.nonce,
            machine_digest: request.machine_digest(),
            deactivation_key: self.deactivation_key(&activated.license_id),
            license: activated.license,
        };
        let unsigned = response.to_unsigned(&self.signer.kid());
        let signed = unsigned.finish(&self.signer.sign_raw(&unsigned.message()));
        OfflineAnswer {
            response: armor_activation_response(&signed),
            license_id: activated.license_id,
        }
    }

    /// `POST /v1/deactivate/offline`: a deactivation proof carried back frees the seat (limited
    /// like the software's own deactivations).
    pub(crate) fn deactivate_offline(
        &self,
        proof: &str,
        now: DateTime<Utc>,
    ) -> Result<Deactivated, LicensingError> {
        let proof = DeactivationProof::parse(proof)
            .map_err(|e| LicensingError::Invalid(format!("deactivation proof: {e}")))?;
        let refused =
            || LicensingError::ProofRejected("the deactivation proof is not valid".into());
        let license_id = proof.license_id.to_string();
        let record = self.store.license(&license_id)?.ok_or_else(refused)?;
        let expected = deactivation_tag(
            &self.deactivation_key(&license_id),
            &proof.license_id,
            proof.revision,
        );
        let tag_ok: bool = expected.ct_eq(&proof.tag).into();
        if !tag_ok || proof.revision > record.revision {
            return Err(refused());
        }
        self.free_seat(&license_id, FreedBy::OfflineProof, now)
    }
}
