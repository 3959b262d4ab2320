//! The server's TLS identity: a CA generated at start and a server certificate it signs.
//!
//! Clients verify the server the way they verify a cluster: against the CA given in the kubeconfig
//! (`certificate-authority-data`) or in the service-account directory (`ca.crt`). The server
//! certificate names `127.0.0.1` (IP SAN) and `localhost` (DNS SAN) and carries an authority key
//! identifier, which strict verifiers (Python's `VERIFY_X509_STRICT`) require.

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

/// The CA certificate (PEM) clients must trust and the rustls configuration that serves with it.
pub(crate) struct ServerIdentity {
    pub ca_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

/// Generates a fresh CA and server certificate, and a rustls configuration offering HTTP/2 and
/// HTTP/1.1 by ALPN (kubectl and client-go prefer HTTP/2, the Python client speaks HTTP/1.1).
pub(crate) fn generate() -> Result<ServerIdentity> {
    let (ca_der, ca_pem, issuer) = certificate_authority()?;
    let (server_der, server_key) = server_certificate(&issuer)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(vec![server_der, ca_der], server_key)
        .context("server certificate for the Kubernetes API test server")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerIdentity {
        ca_pem,
        config: Arc::new(config),
    })
}

pub(crate) type CaParts = (CertificateDer<'static>, String, Issuer<'static, KeyPair>);

pub(crate) fn certificate_authority() -> Result<CaParts> {
    let mut params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "hook-runner lab kube-ca");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate().context("CA key")?;
    let cert = params.self_signed(&key).context("self-signing the CA")?;
    Ok((cert.der().clone(), cert.pem(), Issuer::new(params, key)))
}

fn server_certificate(
    issuer: &Issuer<'static, KeyPair>,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let mut params = CertificateParams::new(names).context("server certificate parameters")?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().context("server key")?;
    let cert = params
        .signed_by(&key, issuer)
        .context("signing the server certificate")?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}
