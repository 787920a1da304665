//! The OpenAPI document served at `/openapi.json`, generated from the handlers' annotations so
//! it cannot drift from the code.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{companies, events, groups, status, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "scimsync admin API", description = "Users, SCIM event log and sync status per company."),
    paths(companies::create, companies::list, users::list, users::get, users::patch, users::clear_manager, users::reports, events::list, status::get,
        groups::list, groups::set_level, groups::list_automations, groups::add_automation, groups::delete_automation),
    components(schemas(
        companies::NewCompany, companies::CompanyView, companies::CompanyList,
        users::UserView, users::UserPage, users::UserPatch, users::ReportList,
        events::EventView, events::EventPage, status::ScimStatus, status::GroupStatus,
        groups::GroupView, groups::GroupList, groups::GroupLevel, groups::AutomationView, groups::AutomationList, groups::NewAutomation,
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
