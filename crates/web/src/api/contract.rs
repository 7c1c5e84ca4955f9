//! What holds for every operation of the API, kept in one place: errors that
//! the router or a layer answers before any handler (unknown path, wrong
//! method, body too large, unreadable path) get the same JSON envelope as the
//! handlers' own, and the description lists them — with the paging of lists —
//! wherever they can occur.

use crate::error::ApiError;
use apostle_core::CoreError;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::{
    Content, ObjectBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Type,
};

/// Where the API lives; errors under it are JSON.
const PREFIX: &str = "/api/v1";

/// Gives every error under `/api/v1` that is not JSON yet (axum's own
/// rejections, the body limit) the API's envelope, keeping its
/// status and headers (`Allow` on a 405).
pub async fn envelope(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path != PREFIX && !path.starts_with(&format!("{PREFIX}/")) {
        return next.run(req).await;
    }
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Axum's rejections explain themselves in a line of text; nothing else
    // reaches here with a body worth showing.
    let said = axum::body::to_bytes(body, 2048)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::BadRequest(
            status,
            "This address does not take this method; `Allow` lists those it takes.".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::BadRequest(status, "The request body is too large.".to_owned())
        }
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Core(CoreError::Overloaded),
        s if s.is_server_error() => ApiError::Core(CoreError::Internal(format!(
            "{s} without a JSON body: {said}"
        ))),
        s if said.is_empty() => ApiError::BadRequest(
            s,
            s.canonical_reason()
                .unwrap_or("The request was refused")
                .to_owned(),
        ),
        s => ApiError::BadRequest(s, format!("The request could not be read: {said}")),
    };
    let mut answer = error.into_response();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in answer.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    *answer.headers_mut() = parts.headers;
    answer
}

/// Any path under `/api/v1` that the API does not have. Its own fallback,
/// since the app's pages answer other unknown paths with HTML.
pub(super) async fn no_such_path() -> ApiError {
    ApiError::BadRequest(
        StatusCode::NOT_FOUND,
        "There is nothing at this address in the API.".to_owned(),
    )
}

/// Adds to `doc` what every operation shares: `400` where a path, query or
/// body is read, `413` and `415` where a body is sent, and for lists (those
/// taking `cursor`) the `If-None-Match` header, the `ETag` of `200` and the
/// `304` answer.
pub(super) fn complete(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            complete_operation(operation);
        }
    }
}

fn complete_operation(operation: &mut Operation) {
    let params = operation.parameters.clone().unwrap_or_default();
    let has_body = operation.request_body.is_some();
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.contains_key("application/json"));
    let is_list = params.iter().any(|p| p.name == "cursor");
    let authenticated = operation.security.is_some();
    if !params.is_empty() || has_body {
        add_error(operation, 400, "A parameter or the body could not be read");
    }
    if authenticated {
        add_error(operation, 401, "No token, or an expired or revoked one");
    }
    if has_body {
        add_error(operation, 413, "The body is too large");
    }
    if json_body {
        add_error(operation, 415, "The body is not sent as `application/json`");
    }
    if is_list {
        list_contract(operation);
    }
}

fn error_body() -> Content {
    Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody"))))
}

/// Lists `status` with the error envelope, unless the operation already says
/// when it occurs.
fn add_error(operation: &mut Operation, status: u16, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", error_body())
                    .build(),
            )
        });
}

fn list_contract(operation: &mut Operation) {
    let string = || ObjectBuilder::new().schema_type(Type::String).build();
    operation.parameters.get_or_insert_with(Vec::new).push(
        ParameterBuilder::new()
            .name("If-None-Match")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The `ETag` of the list as the client holds it: `304` when it is unchanged",
            ))
            .schema(Some(string()))
            .build(),
    );
    let etag = |description: &str| {
        HeaderBuilder::new()
            .schema(string())
            .description(Some(description))
            .build()
    };
    let responses = &mut operation.responses.responses;
    if let Some(RefOr::T(ok)) = responses.get_mut("200") {
        ok.headers.insert(
            "ETag".to_owned(),
            etag("Send it back as `If-None-Match` to get `304` while the page is unchanged"),
        );
    }
    responses.insert(
        "304".to_owned(),
        RefOr::T(
            ResponseBuilder::new()
                .description("Unchanged since the `ETag` sent in `If-None-Match`")
                .header("ETag", etag("The same as before"))
                .build(),
        ),
    );
    let bad = "A parameter could not be read, a `cursor` this list did not give, \
               or a `limit` outside 1 to 200";
    responses.insert(
        "400".to_owned(),
        RefOr::T(
            ResponseBuilder::new()
                .description(bad)
                .content("application/json", error_body())
                .build(),
        ),
    );
}
