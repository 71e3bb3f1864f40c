//! The job types built into the `stoker` binary, as API.md lists them: `noop`, `sleep`, `fail`
//! and `http`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stoker::{Job, JobContext, JobError, StokerBuilder};

/// Registers every built-in job type.
pub(super) fn register(builder: StokerBuilder) -> StokerBuilder {
    builder
        .register::<Noop>()
        .register::<Sleep>()
        .register::<Fail>()
        .register::<Http>()
}

/// Does nothing and succeeds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Noop {}

impl Job for Noop {
    const NAME: &'static str = "noop";

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// Waits `ms` milliseconds (cancellable), then succeeds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sleep {
    ms: u64,
}

impl Job for Sleep {
    const NAME: &'static str = "sleep";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(self.ms)) => Ok(()),
            () = ctx.cancelled() => Err(JobError::retry("cancelled while sleeping")),
        }
    }
}

/// Fails its first `times` attempts (all of them when absent) with `message`, then succeeds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fail {
    message: Option<String>,
    times: Option<u32>,
}

impl Job for Fail {
    const NAME: &'static str = "fail";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        if self.times.is_none_or(|times| ctx.attempt() <= times) {
            let message = self
                .message
                .unwrap_or_else(|| "failed on purpose".to_owned());
            return Err(JobError::retry(message));
        }
        Ok(())
    }
}

/// Calls `url`; a non-2xx answer or a transport error fails the attempt.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Http {
    url: String,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<serde_json::Value>,
    timeout_ms: Option<u64>,
}

/// How long a call may take unless the job says otherwise.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The TLS settings of every call: the web's public roots, through rustls and ring.
fn tls() -> Arc<rustls::ClientConfig> {
    static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    })
    .clone()
}

impl Job for Http {
    const NAME: &'static str = "http";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let method = self.method.as_deref().unwrap_or("POST");
        let method = awc::http::Method::from_bytes(method.as_bytes())
            .map_err(|_| JobError::fatal(format!("`{method}` is not an HTTP method")))?;
        let timeout = self.timeout_ms.map_or(HTTP_TIMEOUT, Duration::from_millis);
        let client = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(tls()))
            .timeout(timeout)
            .finish();
        let mut request = client.request(method, &self.url);
        for (name, value) in &self.headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }
        let call = async {
            match &self.body {
                Some(body) => request.send_json(body).await,
                None => request.send().await,
            }
        };
        let answer = tokio::select! {
            answer = call => answer,
            () = ctx.cancelled() => return Err(JobError::retry("cancelled while calling")),
        };
        let status = answer
            .map_err(|error| JobError::retry(format!("calling {}: {error}", self.url)))?
            .status();
        if status.is_success() {
            Ok(())
        } else {
            Err(JobError::retry(format!(
                "{} answered HTTP {}",
                self.url,
                status.as_u16()
            )))
        }
    }
}
