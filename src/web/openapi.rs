//! The OpenAPI 3 description of the API, generated from the handlers and types (utoipa), served
//! at `/api/openapi.json` so that clients can be generated and the API fuzzed.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::Method;
use utoipa::openapi::path::{Operation, Parameter};
use utoipa::openapi::schema::{ArrayItems, Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::access::Admitted;
use super::{jobs, monitoring, recurring, workspaces};
use crate::bounds;
use crate::retry::MAX_ATTEMPTS;

/// Job ids travel as JSON strings.
impl utoipa::PartialSchema for crate::JobId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .examples([serde_json::json!("42")])
            .into()
    }
}

impl utoipa::ToSchema for crate::JobId {}

/// Every documented operation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "stoker",
        description = "Persistent background jobs, per workspace."
    ),
    paths(
        monitoring::health,
        monitoring::cron_next,
        workspaces::list,
        workspaces::create,
        jobs::enqueue,
        jobs::enqueue_batch,
        jobs::list,
        jobs::details,
        jobs::requeue,
        jobs::enqueue_now,
        jobs::delete,
        recurring::list,
        recurring::put,
        recurring::get,
        recurring::remove,
        recurring::trigger,
        recurring::pause,
        recurring::resume,
        monitoring::stats,
        monitoring::history,
        monitoring::servers,
    ),
    modifiers(&Rules)
)]
struct ApiDoc;

/// What the handlers' annotations leave to one place: the rules every name and number in a
/// path or query follows (the same checks the handlers make), and the error answers any
/// operation may give (API.md's table), so that a client or a fuzzer knows them all.
struct Rules;

impl Modify for Rules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for components in openapi.components.iter_mut() {
            for (name, schema) in components.schemas.iter_mut() {
                constrain_properties(name, schema);
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let RefOr::T(parameter) = parameter {
                        constrain(parameter);
                    }
                }
                describe_errors(path, operation);
            }
        }
    }
}

/// Gives the properties of body schema `name` the rules the handlers check.
fn constrain_properties(name: &str, schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::Object(object)) = schema else {
        return;
    };
    for (property, schema) in object.properties.iter_mut() {
        let value = match schema {
            RefOr::T(Schema::Object(value)) => value,
            RefOr::T(Schema::Array(list)) => match &mut list.items {
                ArrayItems::RefOrSchema(item) => match item.as_mut() {
                    RefOr::T(Schema::Object(value)) => value,
                    _ => continue,
                },
                ArrayItems::False => continue,
            },
            _ => continue,
        };
        constrain_property(name, property, value);
    }
}

/// The rule of a named property of a body (of each of its items, for a list): queue names
/// everywhere, the workspace name of `POST /api/workspaces`, and the bounds of delays, retries
/// and times.
fn constrain_property(schema: &str, property: &str, value: &mut Object) {
    match (schema, property) {
        (_, "queue") => value.pattern = Some(crate::name::QUEUE_PATTERN.to_owned()),
        ("CreateRequest", "name") => {
            value.pattern = Some(crate::name::WORKSPACE_PATTERN.to_owned())
        }
        ("JobRequest", "delay_seconds") | ("RetryRequest", "delays_seconds") => {
            value.minimum = Some(0u64.into());
            value.maximum = Some(bounds::MAX_DURATION_SECONDS.into());
            value.description = Some("seconds, at most 10 years".to_owned());
        }
        ("RetryRequest", "attempts") => value.maximum = Some(MAX_ATTEMPTS.into()),
        ("JobRequest", "run_at") => value.description = Some(TIME_RULE.to_owned()),
        _ => {}
    }
}

/// What every time given to the API must be.
const TIME_RULE: &str = "an RFC 3339 time within the years 1970-9999";

/// A string parameter's pattern, or a number's range, by the parameter's name.
fn constrain(parameter: &mut Parameter) {
    let string = |pattern: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
    };
    let number = |min: u64, max: Option<u64>| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(max)
    };
    let schema = match parameter.name.as_str() {
        "ws" => string(crate::name::WORKSPACE_PATTERN),
        "queue" => string(crate::name::QUEUE_PATTERN),
        "rid" => string(crate::name::RECURRING_ID_PATTERN),
        "id" => string("^[1-9][0-9]{0,17}$"),
        "state" => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(crate::JobState::ALL.map(crate::JobState::as_str))),
        "granularity" => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["hour", "day"])),
        "limit" => number(1, Some(500)),
        "count" => number(1, Some(100)),
        "offset" => number(0, Some(bounds::MAX_OFFSET)),
        "after" => {
            parameter.description = Some(TIME_RULE.to_owned());
            return;
        }
        _ => return,
    };
    parameter.schema = Some(RefOr::T(Schema::Object(schema.build())));
}

/// Adds the error answers `operation` on `path` may give besides its own.
fn describe_errors(path: &str, operation: &mut Operation) {
    if path == "/healthz" || path == "/api/openapi.json" {
        return;
    }
    let mut errors = vec![
        ("400", "bad input: malformed, ill-typed or breaking a rule"),
        ("401", "no or wrong credentials"),
        (
            "403",
            "credentials that do not reach this workspace, or a read-only server",
        ),
        ("503", "the workspace's storage cannot be reached right now"),
    ];
    if path.contains("{ws}") {
        errors.push(("404", "no such workspace, job or recurring job"));
    }
    if operation.request_body.is_some() {
        errors.push(("413", "body over the limit"));
    }
    let responses = &mut operation.responses.responses;
    if responses.contains_key("409") {
        errors.push((
            "409",
            "the workspace exists, or the job's state forbids the action",
        ));
    }
    for (status, description) in errors {
        let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
        let error = ResponseBuilder::new()
            .description(description)
            .content("application/json", body);
        let response = responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error.build()));
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = description.to_owned();
        }
    }
}

/// The description, as JSON text (built once).
pub fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the description serializes")
    })
}

/// Every documented operation: its path, method and `operation_id`, in path order (a static
/// segment before a `{parameter}` in the same place, since `{` sorts after every name
/// character). The API's routes are made from this list, so that a path is written once, in
/// its handler's `#[utoipa::path]`.
pub(super) fn operations() -> Vec<(String, Method, String)> {
    let mut operations = Vec::new();
    for (path, item) in ApiDoc::openapi().paths.paths {
        let by_method = [
            (Method::GET, item.get),
            (Method::PUT, item.put),
            (Method::POST, item.post),
            (Method::DELETE, item.delete),
        ];
        for (method, operation) in by_method {
            if let Some(id) = operation.and_then(|operation| operation.operation_id) {
                operations.push((path.clone(), method, id));
            }
        }
    }
    operations.sort_by(|a, b| a.0.cmp(&b.0));
    operations
}

/// `GET /api/openapi.json`
pub(super) async fn document(_: Admitted) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document_json())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::from_str(document_json()).unwrap()
    }

    #[test]
    fn every_response_of_every_operation_has_a_description() {
        let document = document();
        let mut seen = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let description = response["description"].as_str().unwrap_or("");
                    assert!(!description.is_empty(), "{method} {path} {status}");
                    seen += 1;
                }
            }
        }
        assert!(seen > 100, "only {seen} responses");
    }

    #[test]
    fn every_operation_has_its_own_id() {
        let document = document();
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or("");
                assert!(ids.insert(id.to_owned()), "{method} {path}: `{id}` again");
            }
        }
    }

    #[test]
    fn the_bounds_of_offsets_delays_and_retries_are_in_the_document() {
        let document = document();
        let list = &document["paths"]["/api/workspaces/{ws}/jobs"]["get"]["parameters"];
        let offset = list
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == "offset")
            .unwrap();
        assert_eq!(offset["schema"]["maximum"], bounds::MAX_OFFSET);
        let schemas = &document["components"]["schemas"];
        let job = &schemas["JobRequest"]["properties"];
        assert_eq!(
            job["delay_seconds"]["maximum"],
            bounds::MAX_DURATION_SECONDS
        );
        let retry = &schemas["RetryRequest"]["properties"];
        assert_eq!(retry["attempts"]["maximum"], MAX_ATTEMPTS);
        assert_eq!(
            retry["delays_seconds"]["items"]["maximum"],
            bounds::MAX_DURATION_SECONDS
        );
    }

    /// Every `$ref` names a schema the document holds, the flow-control fields included.
    #[test]
    fn every_reference_resolves_to_a_schema_of_the_document() {
        fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(reference)) = map.get("$ref") {
                        found.push(reference);
                    }
                    map.values().for_each(|value| references(value, found));
                }
                Value::Array(items) => items.iter().for_each(|item| references(item, found)),
                _ => {}
            }
        }
        let document = document();
        let mut found = Vec::new();
        references(&document, &mut found);
        let schemas = &document["components"]["schemas"];
        for reference in &found {
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(
                schemas.get(name).is_some(),
                "{reference} is not in the document"
            );
        }
        assert!(found.iter().any(|reference| reference.ends_with("/Unique")));
        let unique = &schemas["Unique"]["properties"];
        assert!(unique.get("period_seconds").is_some(), "{unique}");
    }
}
