//! Who is calling: the verified claims the API Gateway JWT authorizer put in the request context.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::ApiError;
use crate::ids::UserId;

/// Members of this identity-provider group administer the migration.
pub const ADMIN_GROUP: &str = "agentid-admins";

/// A verified human caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The JWT `sub`.
    pub user_id: UserId,
    /// Whether the caller is in [`ADMIN_GROUP`].
    pub admin: bool,
}

impl Caller {
    /// Whether the caller may act for `owner`: the owner themself, or an admin.
    pub fn may_act_for(&self, owner: &UserId) -> bool {
        self.admin || self.user_id == *owner
    }

    /// Fails with 403 unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this action needs an administrator".into(),
            ))
        }
    }

    /// The caller from `req`'s JWT authorizer claims; 401 when there are none.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let claims = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        }
        .ok_or(ApiError::Unauthenticated)?;
        let sub = claims.get("sub").ok_or(ApiError::Unauthenticated)?;
        let user_id = UserId::parse(sub.as_str()).map_err(|_| ApiError::Unauthenticated)?;
        let admin = ["cognito:groups", "groups"]
            .iter()
            .filter_map(|name| claims.get(*name))
            .any(|value| parse_groups(value).any(|g| g == ADMIN_GROUP));
        Ok(Self { user_id, admin })
    }
}

/// Groups as API Gateway passes them: `[a b]`, a JSON array, or a comma-separated list.
fn parse_groups(value: &str) -> impl Iterator<Item = &str> {
    value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|g| g.trim_matches('"'))
        .filter(|g| !g.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_in_every_shape_api_gateway_uses() {
        for value in [
            "[agentid-admins other]",
            r#"["other","agentid-admins"]"#,
            "other, agentid-admins",
            "agentid-admins",
        ] {
            assert!(parse_groups(value).any(|g| g == ADMIN_GROUP), "{value}");
        }
        assert!(!parse_groups("[agentid-admins-not other]").any(|g| g == ADMIN_GROUP));
    }
}
