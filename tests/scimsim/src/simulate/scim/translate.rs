//! A Stytch member body (what the simulated identity provider's state is) written as Entra
//! writes it to a SCIM endpoint: the User resource it POSTs, and the PATCH it sends for a
//! change, in either of Entra's dialects (SPEC §6).

use serde_json::{json, Map, Value};

/// The enterprise User extension's URN.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// Entra's PATCH dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// The default: capitalised ops (`Replace`), booleans as strings (`"False"`), one op per
    /// attribute with its path.
    Entra,
    /// With the `aadOptscim062020` flag: lower-case ops, real booleans, the single-valued
    /// attributes in one path-less `replace` whose keys are dotted or URN paths.
    #[value(name = "entra-2020")]
    #[serde(rename = "entra-2020")]
    Entra2020,
}

/// The SCIM attributes of a member body (`member.scim_registration.scim_attributes`).
fn attributes(body: &Value) -> &Value {
    &body["member"]["scim_registration"]["scim_attributes"]
}

fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn typed<'a>(list: &'a Value, kind: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|i| i["type"] == kind)
}

/// What one member body says, in SCIM's names.
pub struct UserState {
    /// The resource's `externalId`: the simulated member's id, by which the checks find it.
    pub external_id: String,
    pub user_name: String,
    pub active: bool,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub given: Option<String>,
    pub family: Option<String>,
    pub phones: Vec<(String, String)>,
    pub address: Option<Value>,
    pub enterprise: Map<String, Value>,
    /// The manager's member id (the SCIM id is found when the request is made).
    pub manager: Option<String>,
}

impl UserState {
    pub fn of(body: &Value) -> Option<Self> {
        let a = attributes(body);
        let member = &body["member"];
        let user_name = text(&member["email_address"]).or_else(|| text(&a["user_name"]))?;
        let ext = &a["enterprise_extension"];
        let mut enterprise = Map::new();
        for (snake, camel) in [
            ("employee_number", "employeeNumber"),
            ("department", "department"),
            ("division", "division"),
            ("cost_center", "costCenter"),
            ("organization", "organization"),
        ] {
            if let Some(v) = text(&ext[snake]) {
                enterprise.insert(camel.to_owned(), Value::String(v));
            }
        }
        let phones = a["phone_numbers"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|p| Some((text(&p["type"])?, text(&p["value"])?)))
                    .collect()
            })
            .unwrap_or_default();
        let address = typed(&a["addresses"], "work").map(|w| {
            json!({
                "type": "work", "primary": true,
                "formatted": w["formatted"], "streetAddress": w["street_address"],
                "locality": w["locality"], "region": w["region"],
                "postalCode": w["postal_code"], "country": w["country"],
            })
        });
        Some(Self {
            external_id: text(&body["id"]).or_else(|| text(&member["member_id"]))?,
            user_name,
            active: a["active"].as_bool().unwrap_or(true),
            display_name: text(&a["display_name"]),
            title: text(&a["title"]),
            given: text(&a["name"]["given_name"]),
            family: text(&a["name"]["family_name"]),
            phones,
            address,
            enterprise,
            manager: text(&ext["manager"]["value"]),
        })
    }

    /// The User resource a POST creates; `manager` is the manager's SCIM id, if it exists yet.
    pub fn resource(&self, manager: Option<&str>) -> Value {
        let mut enterprise = self.enterprise.clone();
        if let Some(manager) = manager {
            enterprise.insert("manager".into(), json!({ "value": manager }));
        }
        let phones: Vec<Value> = self
            .phones
            .iter()
            .map(|(kind, value)| json!({"type": kind, "value": value, "primary": kind == "work"}))
            .collect();
        let mut user = json!({
            "schemas": [USER, ENTERPRISE],
            "externalId": self.external_id,
            "userName": self.user_name,
            "active": self.active,
            "displayName": self.display_name,
            "title": self.title,
            "name": {"givenName": self.given, "familyName": self.family},
            "emails": [{"type": "work", "value": self.user_name, "primary": true}],
            "phoneNumbers": phones,
            "addresses": self.address.iter().collect::<Vec<_>>(),
            ENTERPRISE: enterprise,
        });
        strip_nulls(&mut user);
        user
    }

    /// The PATCH operations that bring a stored user to this state.
    pub fn operations(&self, dialect: Dialect, manager: Option<&str>) -> Vec<Value> {
        let op = |name: &str| match dialect {
            Dialect::Entra => name.to_owned(),
            Dialect::Entra2020 => name.to_ascii_lowercase(),
        };
        let boolean = |b: bool| match dialect {
            Dialect::Entra => Value::String(if b { "True" } else { "False" }.into()),
            Dialect::Entra2020 => Value::Bool(b),
        };
        let mut single: Vec<(String, Value)> = vec![
            ("userName".into(), json!(self.user_name)),
            ("active".into(), boolean(self.active)),
        ];
        for (path, value) in [
            ("displayName", &self.display_name),
            ("title", &self.title),
            ("name.givenName", &self.given),
            ("name.familyName", &self.family),
        ] {
            if let Some(v) = value {
                single.push((path.into(), json!(v)));
            }
        }
        for (key, value) in &self.enterprise {
            single.push((format!("{ENTERPRISE}:{key}"), value.clone()));
        }
        let mut ops = Vec::new();
        match dialect {
            Dialect::Entra => {
                for (path, value) in single {
                    ops.push(json!({"op": op("Replace"), "path": path, "value": value}));
                }
            }
            Dialect::Entra2020 => {
                let value: Map<String, Value> = single.into_iter().collect();
                ops.push(json!({"op": op("Replace"), "value": value}));
            }
        }
        ops.push(json!({
            "op": op("Replace"),
            "path": "emails[type eq \"work\"].value",
            "value": self.user_name,
        }));
        for (kind, number) in &self.phones {
            ops.push(json!({
                "op": op("Replace"),
                "path": format!("phoneNumbers[type eq \"{kind}\"].value"),
                "value": number,
            }));
        }
        if let Some(address) = &self.address {
            for key in [
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
            ] {
                if let Some(v) = address[key].as_str() {
                    ops.push(json!({
                        "op": op("Replace"),
                        "path": format!("addresses[type eq \"work\"].{key}"),
                        "value": v,
                    }));
                }
            }
        }
        if let Some(manager) = manager {
            ops.push(manager_op(dialect, manager));
        }
        ops
    }
}

/// Sets the manager: Entra's default dialect sends the bare id, the 2020 one `{value}`.
pub fn manager_op(dialect: Dialect, manager: &str) -> Value {
    let path = format!("{ENTERPRISE}:manager");
    match dialect {
        Dialect::Entra => json!({"op": "Replace", "path": path, "value": manager}),
        Dialect::Entra2020 => json!({"op": "replace", "path": path, "value": {"value": manager}}),
    }
}

/// Adds or removes members of a group: `Add` with a value list; removal as a value list in
/// Entra's default dialect and as `members[value eq "..."]` paths in the 2020 one.
pub fn members_ops(dialect: Dialect, add: &[String], remove: &[String]) -> Vec<Value> {
    let op = |name: &str| match dialect {
        Dialect::Entra => name.to_owned(),
        Dialect::Entra2020 => name.to_ascii_lowercase(),
    };
    let mut ops = Vec::new();
    if !add.is_empty() {
        let values: Vec<Value> = add.iter().map(|id| json!({"value": id})).collect();
        ops.push(json!({"op": op("Add"), "path": "members", "value": values}));
    }
    match dialect {
        Dialect::Entra if !remove.is_empty() => {
            let values: Vec<Value> = remove.iter().map(|id| json!({"value": id})).collect();
            ops.push(json!({"op": "Remove", "path": "members", "value": values}));
        }
        Dialect::Entra => {}
        Dialect::Entra2020 => {
            for id in remove {
                ops.push(json!({"op": "remove", "path": format!("members[value eq \"{id}\"]")}));
            }
        }
    }
    ops
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
