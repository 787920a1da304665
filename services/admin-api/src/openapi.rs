//! The OpenAPI document served at `/openapi.json`, generated from the handlers' annotations so
//! it cannot drift from the code.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{companies, events, status, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "scimsync admin API", description = "Users, SCIM event log and sync status per company."),
    paths(companies::create, companies::list, users::list, users::get, users::patch, events::list, status::get),
    components(schemas(
        companies::NewCompany, companies::CompanyView, companies::CompanyList,
        users::UserView, users::UserPage, users::UserPatch,
        events::EventView, events::EventPage, status::ScimStatus, status::GroupStatus,
    )),
    modifiers(&BearerAuth),
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

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
