//! The OpenAPI document served at `/openapi.json`, generated from the handlers' annotations so
//! it cannot drift from the code.

use axum::http::StatusCode;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::{audit, companies, events, groups, scim_tokens, status, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "scimsync admin API", description = "Users, SCIM event log and sync status per company."),
    paths(companies::create, companies::list, companies::patch, audit::list, users::list, users::get, users::patch, users::clear_manager, users::reports, events::list, status::get,
        groups::list, groups::set_level, groups::list_automations, groups::add_automation, groups::delete_automation,
        scim_tokens::create, scim_tokens::list, scim_tokens::revoke),
    components(schemas(
        companies::NewCompany, companies::CompanyView, companies::CompanyList, companies::CompanyPatch,
        audit::AuditEntry, audit::AuditPage,
        users::UserView, users::UserPage, users::UserPatch, users::ReportList,
        events::EventView, events::EventPage, status::ScimStatus, status::GroupStatus,
        groups::GroupView, groups::GroupList, groups::GroupLevel, groups::AutomationView, groups::AutomationList, groups::NewAutomation,
        scim_tokens::NewToken, scim_tokens::CreatedToken, scim_tokens::TokenView, scim_tokens::TokenList,
        Error,
    )),
    modifiers(&BearerAuth, &Refusals),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The body of every refusal (`scimsync_platform::http::ApiError`).
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the JSON the API writes; never built here.
struct Error {
    /// What went wrong, for programs: `invalid_path`, `invalid_query`, `malformed_json`,
    /// `invalid_body`, `invalid_field`, `invalid_value`, `payload_too_large`, `uri_too_long`,
    /// `host_not_allowed`, `not_found`, `unauthorized`, ...
    error: String,
    /// What went wrong, for people.
    message: String,
    /// The field at fault, when there is one.
    field: Option<String>,
}

/// Every operation's refusals carry the [`Error`] body, and every operation documents what any
/// of them can answer: 401 for a missing or wrong token when one is configured, 403 for a
/// viewer's token on an operation that changes something, 414 for a URI
/// too long, 421 for a host not configured, 503 while the database cannot be reached; when it
/// takes parameters, 400 for a malformed id in the path or a query value of the wrong type;
/// when it reads a body, 400 for one that is not JSON, 413, 415 and 422.
struct Refusals;

/// Refusals every operation can answer.
const EVERY_OPERATION: [(&str, &str); 4] = [
    (
        "401",
        "a missing or wrong bearer token, when admin tokens are configured (`unauthorized`)",
    ),
    (
        "421",
        "a `Host` that is not one of the configured names, `admin.allowed_hosts` (`host_not_allowed`)",
    ),
    (
        "414",
        "a path and query longer than 8,192 bytes (`uri_too_long`)",
    ),
    (
        "503",
        "the database cannot be reached (`database_unavailable`); try again after `Retry-After`",
    ),
];

/// Refusals of an operation that changes something.
const CHANGES: (&str, &str) = (
    "403",
    "a viewer's token: viewers read, only operators change (`forbidden`)",
);

/// Refusals of an operation with parameters.
const WITH_PARAMETERS: (&str, &str) = (
    "400",
    "a malformed id in the path (`invalid_path`) or query value (`invalid_query`), or a value the database cannot hold, such as a NUL character (`invalid_value`)",
);

/// Refusals of an operation that reads a JSON body.
const WITH_BODY: [(&str, &str); 4] = [
    (
        "400",
        "a body that is not JSON or nests deeper than 127 levels (`malformed_json`), a field out of bounds (`invalid_field`) or holding a NUL character (`invalid_value`), naming the field",
    ),
    ("413", "a body over 1 MiB (`payload_too_large`)"),
    (
        "415",
        "a body without `Content-Type: application/json` (`invalid_body`)",
    ),
    (
        "422",
        "JSON of the wrong shape, such as an unknown field (`invalid_body`)",
    ),
];

impl Modify for Refusals {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let error = || Content::new(Some(Ref::from_schema_name("Error")));
        for item in doc.paths.paths.values_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ];
            for (operation, changes) in operations {
                let Some(operation) = operation else {
                    continue;
                };
                let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let has_body = operation.request_body.is_some();
                let mut refusals: Vec<(&str, &str)> = EVERY_OPERATION.to_vec();
                if changes {
                    refusals.push(CHANGES);
                }
                if has_parameters {
                    refusals.push(WITH_PARAMETERS);
                }
                if has_body {
                    refusals.extend(WITH_BODY);
                }
                let responses = &mut operation.responses.responses;
                for (code, description) in refusals {
                    match responses.get_mut(code) {
                        // A refusal the handler documents in its own words, and more besides.
                        Some(RefOr::T(response)) if !response.description.contains(description) => {
                            response.description = if response.description.is_empty() {
                                description.to_owned()
                            } else {
                                format!("{}; {description}", response.description)
                            };
                        }
                        Some(_) => {}
                        None => {
                            let response = ResponseBuilder::new().description(description).build();
                            responses.insert(code.to_owned(), RefOr::T(response));
                        }
                    }
                }
                for (code, response) in responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if response.description.is_empty() {
                        response.description = reason(code);
                    }
                    if !code.starts_with('2') {
                        response
                            .content
                            .entry("application/json".to_owned())
                            .or_insert_with(error);
                    }
                }
            }
        }
    }
}

/// The status code's reason phrase, for a response documented without a description (the
/// OpenAPI format requires one).
fn reason(code: &str) -> String {
    code.parse::<u16>()
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .and_then(|code| code.canonical_reason())
        .unwrap_or("response")
        .to_owned()
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
