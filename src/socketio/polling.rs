//! HTTP long-polling, the first transport of Engine.IO v4
//! (engine.io-protocol, "Transports", "HTTP long-polling"): a `GET` without
//! a `sid` opens a session; a `GET` with one receives (held until there is
//! something to say, at most 16 packets per answer); a `POST` sends and is
//! answered `ok`. Requests the protocol refuses get the official server's
//! 400 and JSON body.

use std::net::SocketAddr;
use std::sync::Arc;

use super::engine::{Core, PollAccess, refusal};
use super::engineio::{self, EngineError, Transport};
use crate::protocol::http::{Request, Response};

/// Answers one polling request.
pub(crate) fn serve(
    core: &Arc<Core>,
    request: &Request,
    body: &[u8],
    peer: SocketAddr,
) -> Response {
    let query = request.query().unwrap_or("");
    let checked = match engineio::check_request(request.method(), query, false) {
        Ok(checked) => checked,
        Err(error) => return refusal(&error),
    };
    if checked.transport != Transport::Polling {
        return refusal(&EngineError::BadRequest(
            engineio::BadRequest::WebSocketWithoutUpgrade,
        ));
    }
    let Some(sid) = checked.sid else {
        let conn = core.open_polling(request, peer);
        return answer(PollAccess { conn: &conn }.get(core));
    };
    let Some(conn) = core.get(&sid) else {
        return refusal(&EngineError::UnknownSid(sid));
    };
    let access = PollAccess { conn: &conn };
    match request.method() {
        "GET" => answer(access.get(core)),
        "POST" => answer(access.post(core, body).map(|()| "ok".to_owned())),
        _ => refusal(&EngineError::BadRequest(
            engineio::BadRequest::MalformedQuery,
        )),
    }
}

fn answer(result: Result<String, EngineError>) -> Response {
    match result {
        Ok(body) => Response::new(200)
            .with_header("Content-Type", "text/plain; charset=UTF-8")
            .with_header("Cache-Control", "no-store")
            .with_body(body),
        Err(error) => refusal(&error),
    }
}
