//! The electronic seal: an SM2 signature (GB/T 32918) over SM3 digests (GB/T 32905) of the
//! document's PDF and of its frozen content, the algorithms GB/T 38540 prescribes.
//!
//! The sealed file is the PDF followed, after its `%%EOF`, by one comment line
//! `%PERMITS-SEAL <record> <signature>` (both base64): PDF readers ignore what follows the end
//! of file, so the file opens as before, and anyone with the published public key can check it
//! offline (`permits certificates verify FILE.pdf`). A PDF signature dictionary (ISO 32000
//! §12.8) would show in readers, but none of them checks SM2; the province's e-seal service,
//! when there is one, belongs behind this module's interface.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sm3::{Digest, Sm3};

/// The signer's distinguishing identifier: GB/T 35276's default.
const DIST_ID: &str = "1234567812345678";

const MARK: &[u8] = b"%PERMITS-SEAL ";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an SM2 private key in PKCS#8 PEM: {0}")]
    Private(String),
    #[error("not an SM2 public key in SubjectPublicKeyInfo PEM: {0}")]
    Public(String),
}

/// The bureau's sealing key.
#[derive(Clone)]
pub struct SealKey {
    signing: SigningKey,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealKey({})", self.public().key_id())
    }
}

impl SealKey {
    /// A new random key (the demo's, made on first start).
    pub fn generate() -> SealKey {
        use rand::RngCore;
        loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            // A scalar of zero or past the group order is refused: draw again (p ≈ 2⁻³²).
            if let Ok(signing) = SigningKey::from_slice(DIST_ID, &bytes) {
                return SealKey { signing };
            }
        }
    }

    pub fn from_pem(pem: &str) -> Result<SealKey, KeyError> {
        let secret =
            sm2::SecretKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Private(e.to_string()))?;
        let signing =
            SigningKey::new(DIST_ID, &secret).map_err(|e| KeyError::Private(e.to_string()))?;
        Ok(SealKey { signing })
    }

    pub fn to_pem(&self) -> Result<String, KeyError> {
        let secret = sm2::SecretKey::from_bytes(&self.signing.to_bytes())
            .map_err(|e| KeyError::Private(e.to_string()))?;
        secret
            .to_pkcs8_pem(LineEnding::LF)
            .map(|p| p.to_string())
            .map_err(|e| KeyError::Private(e.to_string()))
    }

    pub fn public(&self) -> PublicSealKey {
        PublicSealKey {
            verifying: self.signing.verifying_key().clone(),
        }
    }

    /// An SM2 signature (with SM3, base64) of any message: a document's seal record, or a
    /// request to another system (the permit upload).
    pub fn sign(&self, msg: &[u8]) -> String {
        let sig: Signature = self.signing.sign(msg);
        STANDARD.encode(sig.to_bytes())
    }
}

/// The published half of the key.
#[derive(Debug, Clone)]
pub struct PublicSealKey {
    verifying: VerifyingKey,
}

impl PublicSealKey {
    pub fn from_pem(pem: &str) -> Result<PublicSealKey, KeyError> {
        let public = sm2::PublicKey::from_public_key_pem(pem)
            .map_err(|e| KeyError::Public(e.to_string()))?;
        let verifying =
            VerifyingKey::new(DIST_ID, public).map_err(|e| KeyError::Public(e.to_string()))?;
        Ok(PublicSealKey { verifying })
    }

    pub fn to_pem(&self) -> Result<String, KeyError> {
        sm2::PublicKey::from_sec1_bytes(&self.verifying.to_sec1_bytes())
            .map_err(|e| KeyError::Public(e.to_string()))?
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Public(e.to_string()))
    }

    /// A short name for the key: the first 16 hex digits of the SM3 of its point.
    pub fn key_id(&self) -> String {
        let digest = Sm3::digest(self.verifying.to_sec1_bytes());
        hex::encode(&digest[..8])
    }

    /// Whether `sig_b64` is this key's signature of `msg` (see [`SealKey::sign`]).
    pub fn verifies(&self, msg: &[u8], sig_b64: &str) -> bool {
        let Ok(bytes) = STANDARD.decode(sig_b64) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.verifying.verify(msg, &sig).is_ok()
    }
}

/// What the seal attests, signed as its JSON (fields in this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRecord {
    /// The document's id in the service.
    pub document: String,
    pub title: String,
    pub number: String,
    /// The certificate identifier, when the document is a certificate.
    pub identifier: Option<String>,
    pub filing_number: Option<String>,
    pub issued_at: String,
    /// SM3 of the PDF before the seal line, hex.
    pub pdf_sm3: String,
    /// SM3 of the document's frozen content (its canonical JSON), hex.
    pub data_sm3: String,
    /// Which key signed.
    pub key: String,
}

pub fn sm3_hex(bytes: &[u8]) -> String {
    hex::encode(Sm3::digest(bytes))
}

/// Seal a PDF: the record (with the PDF's digest filled in) is signed and appended.
pub fn seal(pdf: &[u8], mut record: SealRecord, key: &SealKey) -> (Vec<u8>, SealRecord, String) {
    record.pdf_sm3 = sm3_hex(pdf);
    record.key = key.public().key_id();
    // Serialising a struct of strings cannot fail.
    let json = serde_json::to_vec(&record).unwrap_or_default();
    let signature = key.sign(&json);
    let mut file = Vec::with_capacity(pdf.len() + json.len() * 2 + 200);
    file.extend_from_slice(pdf);
    if !pdf.ends_with(b"\n") {
        file.push(b'\n');
    }
    file.extend_from_slice(MARK);
    file.extend_from_slice(STANDARD.encode(&json).as_bytes());
    file.push(b' ');
    file.extend_from_slice(signature.as_bytes());
    file.push(b'\n');
    (file, record, signature)
}

/// What checking a file against the published key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The seal verifies and the PDF is the one sealed.
    Valid(Box<SealRecord>),
    /// Sealed by this key, but the PDF or the seal was changed since.
    Tampered(String),
    /// No seal of ours: not sealed at all, or by another key.
    Unknown(String),
}

/// Check a sealed file offline against the published key.
pub fn verify(file: &[u8], key: &PublicSealKey) -> Verdict {
    let Some(at) = find_last(file, MARK) else {
        return Verdict::Unknown("no seal line: not a document of this service".into());
    };
    let (pdf, line) = file.split_at(at);
    let line = &line[MARK.len()..];
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let text = String::from_utf8_lossy(line);
    let mut parts = text.split(' ');
    let (Some(rec), Some(sig), None) = (parts.next(), parts.next(), parts.next()) else {
        return Verdict::Tampered("the seal line is malformed".into());
    };
    let Some(json) = STANDARD.decode(rec).ok() else {
        return Verdict::Tampered("the seal record is not base64".into());
    };
    let Ok(record) = serde_json::from_slice::<SealRecord>(&json) else {
        return Verdict::Tampered("the seal record is malformed".into());
    };
    if record.key != key.key_id() {
        return Verdict::Unknown(format!(
            "sealed by key {}, not by the published key {}",
            record.key,
            key.key_id()
        ));
    }
    if !key.verifies(&json, sig) {
        return Verdict::Tampered("the signature does not verify: the seal was changed".into());
    }
    // The PDF as sealed: the seal adds a newline first when the PDF did not end with one.
    let sealed = sm3_hex(pdf);
    let trimmed = pdf.strip_suffix(b"\n").map(sm3_hex);
    if sealed != record.pdf_sm3 && trimmed.as_deref() != Some(record.pdf_sm3.as_str()) {
        return Verdict::Tampered("the PDF differs from the one sealed".into());
    }
    Verdict::Valid(Box::new(record))
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn record() -> SealRecord {
        SealRecord {
            document: "d".into(),
            title: "施工许可证".into(),
            number: "1".into(),
            identifier: None,
            filing_number: Some("SGXK-2026-000001".into()),
            issued_at: "2026-12-04T00:00:00Z".into(),
            pdf_sm3: String::new(),
            data_sm3: sm3_hex(b"{}"),
            key: String::new(),
        }
    }

    #[test]
    fn sm3_matches_the_standards_example() {
        // GB/T 32905 Appendix A, example 1: SM3("abc").
        assert_eq!(
            sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn a_sealed_file_verifies_and_any_changed_byte_does_not() {
        let key = SealKey::generate();
        let pdf = b"%PDF-1.7\n...\n%%EOF\n".to_vec();
        let (file, rec, _) = seal(&pdf, record(), &key);
        assert!(file.starts_with(&pdf));
        match verify(&file, &key.public()) {
            Verdict::Valid(r) => assert_eq!(*r, rec),
            other => panic!("{other:?}"),
        }
        for i in [0, 5, pdf.len() + MARK.len() + 3, file.len() - 5] {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(
                matches!(verify(&bad, &key.public()), Verdict::Tampered(_)),
                "byte {i}"
            );
        }
        assert!(matches!(verify(&pdf, &key.public()), Verdict::Unknown(_)));
        assert!(matches!(
            verify(&file, &SealKey::generate().public()),
            Verdict::Unknown(_)
        ));
    }

    #[test]
    fn keys_round_trip_through_pem() {
        let key = SealKey::generate();
        let again = SealKey::from_pem(&key.to_pem().expect("pem")).expect("parses");
        assert_eq!(again.public().key_id(), key.public().key_id());
        let public = PublicSealKey::from_pem(&key.public().to_pem().expect("pem")).expect("parses");
        assert_eq!(public.key_id(), key.public().key_id());
        assert!(SealKey::from_pem("nonsense").is_err());
    }
}
