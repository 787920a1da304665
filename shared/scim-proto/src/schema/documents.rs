//! The discovery documents (RFC 7644 §4): `/Schemas`, `/ResourceTypes` and
//! `/ServiceProviderConfig`, saying exactly what this service supports.

use serde_json::{json, Value};

use super::{ResourceType, Schema, ENTERPRISE_USER, GROUP, GROUP_RESOURCE, USER, USER_RESOURCE};
use crate::list::ListResponse;

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

fn trim(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

impl Schema {
    /// The schema's `/Schemas/{id}` document; `base_url` is e.g. `https://host/scim/v2`.
    pub fn to_json(&self, base_url: &str) -> Value {
        let attributes: Vec<Value> = self.attributes.iter().map(|a| a.to_json()).collect();
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attributes,
            "meta": {
                "resourceType": "Schema",
                "location": format!("{}/Schemas/{}", trim(base_url), self.id),
            },
        })
    }
}

/// The `/Schemas` ListResponse: core User, Enterprise User, Group.
pub fn schemas_json(base_url: &str) -> Value {
    let docs: Vec<Value> = [&USER, &ENTERPRISE_USER, &GROUP]
        .iter()
        .map(|s| s.to_json(base_url))
        .collect();
    ListResponse::complete(docs).to_json()
}

impl ResourceType {
    /// The resource type's `/ResourceTypes/{name}` document.
    pub fn to_json(&self, base_url: &str) -> Value {
        let extensions: Vec<Value> = self
            .extensions
            .iter()
            .map(|s| json!({"schema": s.id, "required": false}))
            .collect();
        let mut doc = json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{}/ResourceTypes/{}", trim(base_url), self.name),
            },
        });
        if let (false, Some(map)) = (extensions.is_empty(), doc.as_object_mut()) {
            map.insert("schemaExtensions".to_owned(), extensions.into());
        }
        doc
    }
}

/// The `/ResourceTypes` ListResponse: User (with the enterprise extension) and Group.
pub fn resource_types_json(base_url: &str) -> Value {
    let docs: Vec<Value> = [&USER_RESOURCE, &GROUP_RESOURCE]
        .iter()
        .map(|r| r.to_json(base_url))
        .collect();
    ListResponse::complete(docs).to_json()
}

/// Builder of the `/ServiceProviderConfig` document (RFC 7643 §5). What it states is fixed by
/// this crate's abilities (PATCH, filters, ETags; no bulk, no password change), except the
/// page cap and whether the service sorts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderConfig {
    /// `filter.maxResults`: the most resources one list answer holds.
    pub max_results: u32,
    /// `sort.supported`.
    pub sort: bool,
    /// `documentationUri`, if any.
    pub documentation_uri: Option<String>,
}

impl ServiceProviderConfig {
    /// A config with this page cap, sorting off.
    pub fn new(max_results: u32) -> Self {
        Self {
            max_results,
            sort: false,
            documentation_uri: None,
        }
    }

    /// Says whether `sortBy` is supported.
    pub fn sort(mut self, supported: bool) -> Self {
        self.sort = supported;
        self
    }

    /// Sets `documentationUri`.
    pub fn documentation_uri(mut self, uri: impl Into<String>) -> Self {
        self.documentation_uri = Some(uri.into());
        self
    }

    /// The document served at `/ServiceProviderConfig`.
    pub fn to_json(&self, base_url: &str) -> Value {
        let mut doc = json!({
            "schemas": [SPC_SCHEMA],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": self.max_results},
            "changePassword": {"supported": false},
            "sort": {"supported": self.sort},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a bearer token issued by the product for one company.",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", trim(base_url)),
            },
        });
        if let (Some(uri), Some(map)) = (&self.documentation_uri, doc.as_object_mut()) {
            map.insert("documentationUri".to_owned(), uri.as_str().into());
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_document_lists_the_three_schemas_with_their_attributes() {
        let doc = schemas_json("https://h/scim/v2/");
        assert_eq!(doc["totalResults"], 3);
        let user = &doc["Resources"][0];
        assert_eq!(user["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
        assert_eq!(
            user["meta"]["location"],
            "https://h/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
        );
        let user_name = &user["attributes"][0];
        assert_eq!(user_name["name"], "userName");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        let emails = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"][2]["canonicalValues"][0], "work");
        let manager = &doc["Resources"][1]["attributes"][5];
        assert_eq!(manager["name"], "manager");
        assert_eq!(manager["subAttributes"][1]["referenceTypes"][0], "User");
    }

    #[test]
    fn resource_types_document_gives_users_the_enterprise_extension() {
        let doc = resource_types_json("https://h/scim/v2");
        assert_eq!(doc["Resources"][0]["endpoint"], "/Users");
        assert_eq!(
            doc["Resources"][0]["schemaExtensions"][0]["schema"],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        );
        assert_eq!(doc["Resources"][1]["id"], "Group");
        assert!(doc["Resources"][1].get("schemaExtensions").is_none());
    }

    #[test]
    fn service_provider_config_states_what_is_supported() {
        let doc = ServiceProviderConfig::new(200)
            .sort(true)
            .to_json("https://h/scim/v2");
        assert_eq!(doc["patch"]["supported"], true);
        assert_eq!(doc["filter"]["maxResults"], 200);
        assert_eq!(doc["changePassword"]["supported"], false);
        assert_eq!(doc["sort"]["supported"], true);
        assert_eq!(doc["etag"]["supported"], true);
        assert_eq!(doc["bulk"]["supported"], false);
        assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    }
}
