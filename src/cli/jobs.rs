//! The job types built into the `stoker` binary, as API.md lists them: `noop`, `sleep`, `fail`
//! and `http`.

use std::collections::BTreeMap;
use std::time::Duration;

use awc::http::StatusCode;
use awc::http::header::{self, HeaderMap};
use serde::{Deserialize, Deserializer, Serialize};
use stoker::outgoing::{self, Destinations};
use stoker::{Job, JobContext, JobError, StokerBuilder};

/// Registers the built-in job types: `http` only when `http` names where it may call.
pub(super) fn register(builder: StokerBuilder, http: Option<Destinations>) -> StokerBuilder {
    let builder = builder
        .register::<Noop>()
        .register::<Sleep>()
        .register::<Fail>();
    match http {
        Some(destinations) => builder.register::<Http>().data(destinations),
        None => builder,
    }
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

/// Calls `url` where the server's [`Destinations`] allow; a non-2xx answer (a redirect
/// included) or a transport error fails the attempt, a refused destination fails the job.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Http {
    url: String,
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "timeout_ms")]
    timeout_ms: Option<u64>,
}

/// How long a call may take unless the job says otherwise.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest `timeout_ms` a job may ask for: five minutes.
const HTTP_TIMEOUT_MAX_MS: u64 = 300_000;

/// Reads `timeout_ms`, from 1 to [`HTTP_TIMEOUT_MAX_MS`]: more is refused as invalid
/// arguments (at enqueue, or for good at the run of a job stored before).
fn timeout_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let ms = Option::<u64>::deserialize(deserializer)?;
    match ms {
        Some(ms) if !(1..=HTTP_TIMEOUT_MAX_MS).contains(&ms) => Err(serde::de::Error::custom(
            format!("timeout_ms must be from 1 to {HTTP_TIMEOUT_MAX_MS}, not {ms}"),
        )),
        ms => Ok(ms),
    }
}

impl Job for Http {
    const NAME: &'static str = "http";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let method = self.method.as_deref().unwrap_or("POST");
        let method = awc::http::Method::from_bytes(method.as_bytes())
            .map_err(|_| JobError::fatal(format!("`{method}` is not an HTTP method")))?;
        let timeout = self.timeout_ms.map_or(HTTP_TIMEOUT, Duration::from_millis);
        let destinations = ctx.data::<Destinations>().unwrap_or_default();
        let mut request = outgoing::client(destinations, timeout).request(method, &self.url);
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
        let answer = answer.map_err(|error| match outgoing::refusal(&error) {
            Some(refused) => JobError::fatal(format!("calling {}: {refused}", self.url)),
            None => JobError::retry(format!("calling {}: {error}", self.url)),
        })?;
        if answer.status().is_success() {
            Ok(())
        } else {
            let failure = unsuccessful(&self.url, answer.status(), answer.headers());
            Err(JobError::retry(failure))
        }
    }
}

/// Why a call to `url` answered with `status` (not 2xx) failed; a redirect, which is not
/// followed, says where it pointed.
fn unsuccessful(url: &str, status: StatusCode, headers: &HeaderMap) -> String {
    let mut failure = format!("{url} answered HTTP {}", status.as_u16());
    if status.is_redirection() {
        let location = headers.get(header::LOCATION);
        let location =
            location.map_or("(none)".into(), |to| String::from_utf8_lossy(to.as_bytes()));
        failure.push_str(&format!(
            ", a redirect (not followed) to Location: {location}"
        ));
    }
    failure
}
