//! Routing and the handshake hook: which endpoint answers a request, and
//! whether it accepts the upgrade (RFC 6455, section 4.2.2).
//!
//! ```text
//!   request head
//!     |-- HTTP/x.y with x other than 1 --------> 505
//!     |-- no Upgrade, no Connection: upgrade --> HTTP responder, or 426
//!     |   (any method, version or Host)
//!     |-- path matches no route ---------------> 404
//!     |   (exact routes, then /room/{name} patterns, then the fallback)
//!     |-- a body declared ---------------------> 400
//!     |-- not a valid WebSocket handshake -----> 400 / 405 / 426
//!     |-- Origin not allowed ------------------> 403
//!     |-- a hook refuses ----------------------> the hook's response
//!     '-- 101 Switching Protocols, with the chosen subprotocol and the
//!         hooks' extra headers
//! ```
//!
//! The hook is where Tornado's `check_origin` and `select_subprotocol`, and
//! Socket.IO's connect handler, live: it sees the request, may refuse it
//! with any response, pick a subprotocol, and add headers (a `Set-Cookie`,
//! say) to the `101`.

use std::net::SocketAddr;
use std::sync::Arc;

use super::Connection;
use super::handler::{Callbacks, Disconnect, Handler, HandlerFactory, factory};
use crate::message::{DataMessage, MessagePart};
use crate::percent::{self, Plus};
use crate::protocol::http::{Headers, Request, Response};

/// The handshake in progress, as a hook sees it.
#[derive(Debug)]
pub struct Handshake<'a> {
    request: &'a Request,
    peer: SocketAddr,
    client: SocketAddr,
    subprotocol: Option<String>,
    headers: Headers,
}

impl<'a> Handshake<'a> {
    pub(crate) fn new(request: &'a Request, peer: SocketAddr, client: SocketAddr) -> Self {
        Handshake {
            request,
            peer,
            client,
            subprotocol: None,
            headers: Headers::new(),
        }
    }

    /// The client's request: path, query, headers, cookies, origin.
    pub fn request(&self) -> &Request {
        self.request
    }

    /// The TCP peer's address (the proxy's, behind one).
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The client's address, as [`Connection::client_addr`] gives it.
    pub fn client_addr(&self) -> SocketAddr {
        self.client
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn offered_subprotocols(&self) -> impl Iterator<Item = &str> {
        self.request.subprotocols()
    }

    /// Chooses `name` as the subprotocol, if the client offered it; returns
    /// whether it did.
    pub fn select_subprotocol(&mut self, name: &str) -> bool {
        let offered = self.request.subprotocols().any(|p| p == name);
        if offered {
            self.subprotocol = Some(name.to_owned());
        }
        offered
    }

    /// The subprotocol chosen so far.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Adds a header field to the `101` response.
    pub fn add_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.headers.append(name, value);
    }

    pub(crate) fn into_parts(self) -> (Option<String>, Headers) {
        (self.subprotocol, self.headers)
    }
}

/// A handshake hook: `Ok(())` accepts, `Err(response)` refuses with that response.
pub(crate) type HandshakeHook =
    Arc<dyn Fn(&mut Handshake<'_>) -> Result<(), Response> + Send + Sync>;

/// Answers plain HTTP requests (no upgrade asked for).
pub(crate) type HttpResponder = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Answers plain HTTP requests to one path, body included, and may block
/// (a long poll); its connections are kept alive between requests.
pub(crate) type HttpService = Arc<dyn Fn(&Request, &[u8], SocketAddr) -> Response + Send + Sync>;

/// An [`HttpService`] and the largest request body it takes.
#[derive(Clone)]
pub(crate) struct ServiceRoute {
    pub(crate) path: String,
    pub(crate) max_body: usize,
    pub(crate) service: HttpService,
}

/// A WebSocket endpoint: how to handle its connections, and how to decide
/// whether to accept them.
///
/// How a request reaches an endpoint, or the answer it gets instead:
///
/// ```text
///   request head
///     |-- HTTP/x.y with x other than 1 --------> 505
///     |-- no Upgrade, no Connection: upgrade --> HTTP responder, or 426
///     |   (any method, version or Host)
///     |-- path matches no route ---------------> 404
///     |   (exact routes, then /room/{name} patterns, then the fallback)
///     |-- a body declared ---------------------> 400
///     |-- not a valid WebSocket handshake -----> 400 / 405 / 426
///     |-- Origin not allowed ------------------> 403
///     |-- a hook refuses ----------------------> the hook's response
///     '-- 101 Switching Protocols, with the chosen subprotocol and the
///         hooks' extra headers
/// ```
///
/// The hook is where Tornado's `check_origin` and `select_subprotocol`, and
/// Socket.IO's connect handler, live: it sees the request, may refuse it
/// with any response, pick a subprotocol, and add headers (a `Set-Cookie`,
/// say) to the `101`.
///
/// ```
/// use stdws::server::{Endpoint, Server};
/// use stdws::protocol::http::Response;
///
/// let chat = Endpoint::callbacks()
///     .subprotocols(["chat.v2", "chat.v1"])
///     .on_handshake(|hs| match hs.request().cookie("session") {
///         Some(_) => Ok(()),
///         None => Err(Response::text(401, "log in first")),
///     })
///     .on_message(|conn, msg| {
///         let _ = conn.broadcast(msg);
///     });
/// let echo = Endpoint::callbacks().on_message(|conn, msg| {
///     let _ = conn.send(msg);
/// });
/// let builder = Server::builder().route("/chat", chat).route("/echo", echo);
/// # drop(builder);
/// ```
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) factory: Option<HandlerFactory>,
    callbacks: Option<Callbacks>,
    pub(crate) hook: Option<HandshakeHook>,
    pub(crate) subprotocols: Vec<String>,
    /// A mistake in how the endpoint was put together, reported by `bind`
    /// (a builder method cannot fail without breaking the chain).
    pub(crate) problem: Option<String>,
    /// Made by [`Endpoint::events`]: its `on_message` is the dispatcher.
    events: bool,
}

impl Endpoint {
    /// An endpoint served by a [`Handler`], made anew for each connection by `make`.
    pub fn handler<H, F>(make: F) -> Endpoint
    where
        H: Handler + 'static,
        F: Fn() -> H + Send + Sync + 'static,
    {
        Endpoint {
            factory: Some(factory(make)),
            callbacks: None,
            hook: None,
            subprotocols: Vec::new(),
            problem: None,
            events: false,
        }
    }

    /// An endpoint whose messages are named events (Socket.IO's style): see
    /// [`Events`](super::Events). Add `on_connect` and `on_disconnect` as
    /// for [`callbacks`](Self::callbacks).
    pub fn events(events: super::Events) -> Endpoint {
        let mut endpoint = Endpoint::callbacks();
        endpoint
            .callbacks_mut("on_message")
            .set_on_message(move |conn, message| events.dispatch(conn, message));
        endpoint.events = true;
        endpoint
    }

    /// An endpoint served by closures; add them with
    /// [`on_connect`](Self::on_connect), [`on_message`](Self::on_message) and
    /// [`on_disconnect`](Self::on_disconnect).
    pub fn callbacks() -> Endpoint {
        Endpoint {
            factory: None,
            callbacks: Some(Callbacks::default()),
            hook: None,
            subprotocols: Vec::new(),
            problem: None,
            events: false,
        }
    }

    /// The callbacks to add `what` to; a handler endpoint has none, and
    /// giving it one is a setup error (the closure would silently take the
    /// place of the handler's own method).
    fn callbacks_mut(&mut self, what: &str) -> &mut Callbacks {
        if self.callbacks.is_none() {
            self.note(format!(
                "{what} was given to an endpoint served by a Handler, whose own {what} it would replace: put the code in the Handler's method, or build the endpoint with callbacks()"
            ));
        }
        self.factory = None;
        self.callbacks.get_or_insert_with(Callbacks::default)
    }

    fn note(&mut self, problem: String) {
        self.problem.get_or_insert(problem);
    }

    /// Records a closure that replaced an earlier one of the same kind.
    fn replaced(&mut self, replaced: bool, what: &str) {
        if replaced {
            let why = if self.events && what == "on_message" {
                "an events endpoint dispatches its messages to the Events' handlers, and on_message would replace that: add an Events handler with on() instead"
                    .to_string()
            } else {
                format!(
                    "{what} was set twice on one endpoint: the later closure would replace the earlier, which would never run"
                )
            };
            self.note(why);
        }
    }

    /// Called when a client has connected (the handshake is complete).
    pub fn on_connect(mut self, f: impl Fn(&Connection) + Send + Sync + 'static) -> Endpoint {
        let replaced = self.callbacks_mut("on_connect").set_on_connect(f);
        self.replaced(replaced, "on_connect");
        self
    }

    /// Called for every text or binary message received.
    pub fn on_message(
        mut self,
        f: impl Fn(&Connection, DataMessage) + Send + Sync + 'static,
    ) -> Endpoint {
        let replaced = self.callbacks_mut("on_message").set_on_message(f);
        self.replaced(replaced, "on_message");
        self
    }

    /// Called for each part of a message of at least `from` bytes, as its
    /// bytes arrive; such messages no longer reach
    /// [`on_message`](Self::on_message). See
    /// [`Handler::message_parts_from`].
    pub fn on_message_part(
        mut self,
        from: usize,
        f: impl Fn(&Connection, MessagePart) + Send + Sync + 'static,
    ) -> Endpoint {
        let replaced = self
            .callbacks_mut("on_message_part")
            .set_on_message_part(from, f);
        self.replaced(replaced, "on_message_part");
        self
    }

    /// Called when a client has left.
    pub fn on_disconnect(
        mut self,
        f: impl Fn(&Connection, &Disconnect) + Send + Sync + 'static,
    ) -> Endpoint {
        let replaced = self.callbacks_mut("on_disconnect").set_on_disconnect(f);
        self.replaced(replaced, "on_disconnect");
        self
    }

    /// Runs `hook` before answering the handshake: it may refuse with any
    /// response, pick a subprotocol, or add headers to the `101`.
    pub fn on_handshake(
        mut self,
        hook: impl Fn(&mut Handshake<'_>) -> Result<(), Response> + Send + Sync + 'static,
    ) -> Endpoint {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// The subprotocols this endpoint speaks, in order of preference: the
    /// first of them that the client offers is chosen (unless a hook chose
    /// one). A client that offers only others is still accepted, with no
    /// subprotocol, as RFC 6455 section 4.2.2 allows.
    pub fn subprotocols<I, S>(mut self, names: I) -> Endpoint
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subprotocols = names.into_iter().map(Into::into).collect();
        self
    }

    /// Fixes the endpoint's handler factory (callbacks become one).
    pub(crate) fn finish(mut self) -> Endpoint {
        if let Some(callbacks) = self.callbacks.take() {
            self.factory = Some(callbacks.into_factory());
        }
        self
    }

    pub(crate) fn make_handler(&self) -> Box<dyn Handler> {
        match &self.factory {
            Some(make) => make(),
            None => Box::new(Ignore),
        }
    }
}

/// The handler of an endpoint given no callbacks: it drops messages.
struct Ignore;

impl Handler for Ignore {
    fn on_message(&mut self, _: &Connection, _: DataMessage) {}
}

/// A route's path: literal segments and `{name}` parameters, each a whole
/// segment (`/room/{name}`, `/users/{id}/feed`). A parameter matches one
/// non-empty segment; its value is percent-decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RoutePattern {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl RoutePattern {
    /// Parses `path`, or says what is wrong with it.
    pub(crate) fn parse(path: &str) -> Result<RoutePattern, String> {
        let Some(rest) = path.strip_prefix('/') else {
            return Err(format!(
                "the route {path:?} does not start with '/': request paths always do, so it would never match (write \"/{path}\")"
            ));
        };
        let mut segments = Vec::new();
        for segment in rest.split('/') {
            let opens = segment.contains('{');
            let closes = segment.contains('}');
            if !opens && !closes {
                segments.push(Segment::Literal(segment.to_owned()));
                continue;
            }
            let name = segment
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .filter(|n| !n.is_empty() && !n.contains(['{', '}']));
            let Some(name) = name else {
                return Err(format!(
                    "the route {path:?} has a malformed parameter {segment:?}: a parameter is a whole segment, such as /room/{{name}}"
                ));
            };
            if segments.contains(&Segment::Param(name.to_owned())) {
                return Err(format!(
                    "the route {path:?} names the parameter {name:?} twice"
                ));
            }
            segments.push(Segment::Param(name.to_owned()));
        }
        Ok(RoutePattern {
            text: path.to_owned(),
            segments,
        })
    }

    /// The route as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    fn has_params(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Param(_)))
    }

    /// The parameters, decoded, if `path` (as sent, without the query)
    /// matches.
    pub(crate) fn matches(&self, path: &str) -> Option<PathParams> {
        let rest = path.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let mut params = Vec::new();
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(_) if part.is_empty() => return None,
                Segment::Param(name) => params.push((
                    name.clone(),
                    percent::decode(part, Plus::Literal).into_owned(),
                )),
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(PathParams(params))
    }
}

/// The values of a route's `{name}` parameters for one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PathParams(Vec<(String, String)>);

impl PathParams {
    pub(crate) fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }

    #[cfg(test)]
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Which endpoint serves which path, and the server-wide checks.
#[derive(Clone, Default)]
pub(crate) struct Router {
    pub(crate) routes: Vec<(RoutePattern, Endpoint)>,
    pub(crate) fallback: Option<Endpoint>,
    pub(crate) http: Option<HttpResponder>,
    pub(crate) services: Vec<ServiceRoute>,
    pub(crate) hook: Option<HandshakeHook>,
    pub(crate) allowed_origins: Option<Vec<String>>,
}

impl Router {
    pub(crate) fn finish(mut self) -> Router {
        self.routes = self
            .routes
            .into_iter()
            .map(|(p, e)| (p, e.finish()))
            .collect();
        self.fallback = self.fallback.map(Endpoint::finish);
        self
    }

    /// The first mistake in the endpoints' setup, if any.
    pub(crate) fn problem(&self) -> Option<String> {
        self.routes
            .iter()
            .filter_map(|(p, e)| {
                e.problem
                    .as_ref()
                    .map(|why| format!("the route {}: {why}", p.as_str()))
            })
            .chain(self.fallback.iter().filter_map(|e| e.problem.clone()))
            .next()
    }

    /// The endpoint for `path` and its route's parameters: a route without
    /// parameters that matches exactly, else the first route with
    /// parameters that matches (in the order they were added), else the
    /// fallback.
    pub(crate) fn endpoint(&self, path: &str) -> Option<(&Endpoint, PathParams)> {
        let exact = self
            .routes
            .iter()
            .filter(|(p, _)| !p.has_params())
            .find(|(p, _)| p.as_str() == path)
            .map(|(_, e)| (e, PathParams::default()));
        exact
            .or_else(|| {
                self.routes
                    .iter()
                    .filter(|(p, _)| p.has_params())
                    .find_map(|(p, e)| p.matches(path).map(|params| (e, params)))
            })
            .or(self.fallback.as_ref().map(|e| (e, PathParams::default())))
    }

    /// The HTTP service for a plain (not upgrade) request to `path`.
    pub(crate) fn service(&self, request: &Request) -> Option<&ServiceRoute> {
        let headers = request.headers();
        if headers.count("Upgrade") > 0 || headers.has_token("Connection", "upgrade") {
            return None;
        }
        self.services.iter().find(|s| s.path == request.path())
    }

    /// Whether a handshake with this `Origin` may open a connection. No
    /// header: a non-browser client, allowed. With a list, the origins on
    /// it (`*` for any); without one, only the server's own origin, the
    /// page's scheme and host matching the `Host` the browser connected to,
    /// as Tornado's `check_origin` does.
    pub(crate) fn origin_allowed(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        match &self.allowed_origins {
            Some(list) => list
                .iter()
                .any(|o| o == "*" || o.eq_ignore_ascii_case(origin)),
            None => host.is_some_and(|host| same_origin(origin, host)),
        }
    }
}

/// Whether a browser's `Origin` (`scheme://host[:port]`) names the `Host`
/// it sent the handshake to: the page came from this server. A port that
/// is the scheme's default may be written or left out on either side.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        // "null" (a sandboxed page or a file) and anything malformed.
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let strip = |a: &str| -> String {
        let a = a.to_ascii_lowercase();
        match a.strip_suffix(default_port) {
            Some(bare) => bare.to_owned(),
            None => a,
        }
    };
    !authority.contains('/') && strip(authority) == strip(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_accepts_only_the_servers_own_origin() {
        let router = Router::default();
        let allowed = |origin, host| router.origin_allowed(Some(origin), Some(host));
        assert!(allowed("http://127.0.0.1:8002", "127.0.0.1:8002"));
        assert!(allowed("https://Chat.Example.com", "chat.example.com"));
        assert!(allowed("https://chat.example.com:443", "chat.example.com"));
        assert!(allowed("http://chat.example.com", "chat.example.com:80"));
        assert!(!allowed("http://127.0.0.1:8003", "127.0.0.1:8002"));
        assert!(!allowed("https://evil.example", "chat.example.com"));
        assert!(!allowed(
            "https://chat.example.com.evil.example",
            "chat.example.com"
        ));
        assert!(!allowed("null", "chat.example.com"));
        assert!(!allowed("ftp://chat.example.com", "chat.example.com"));
        assert!(!router.origin_allowed(Some("http://a"), None));
        // Not a browser: no Origin at all.
        assert!(router.origin_allowed(None, Some("chat.example.com")));
    }

    #[test]
    fn route_parameters_match_whole_segments_and_decode() {
        let pattern = RoutePattern::parse("/room/{name}").unwrap();
        let params = pattern.matches("/room/Zo%C3%AB").unwrap();
        assert_eq!(params.get("name"), Some("Zoë"));
        assert_eq!(params.get("other"), None);
        assert!(pattern.matches("/room/").is_none());
        assert!(pattern.matches("/room").is_none());
        assert!(pattern.matches("/room/a/b").is_none());
        assert!(pattern.matches("/rooms/a").is_none());
        let two = RoutePattern::parse("/u/{id}/feed/{kind}").unwrap();
        let params = two.matches("/u/7/feed/c++").unwrap();
        assert_eq!(
            (params.get("id"), params.get("kind")),
            (Some("7"), Some("c++"))
        );
    }

    #[test]
    fn malformed_routes_are_refused_with_what_to_change() {
        let err = RoutePattern::parse("chat").unwrap_err();
        assert!(err.contains("\"/chat\""), "{err}");
        for bad in ["/room/{name", "/room/x{name}", "/room/{}", "/a/{x}/{x}"] {
            assert!(RoutePattern::parse(bad).is_err(), "{bad}");
        }
        assert!(RoutePattern::parse("/").unwrap().matches("/").is_some());
    }

    #[test]
    fn exact_routes_win_over_parameters_and_parameters_over_the_fallback() {
        let route = |p: &str| {
            (
                RoutePattern::parse(p).unwrap(),
                Endpoint::callbacks().subprotocols([p]),
            )
        };
        let router = Router {
            routes: vec![route("/room/{name}"), route("/room/lobby")],
            fallback: Some(Endpoint::callbacks().subprotocols(["fallback"])),
            ..Router::default()
        };
        let served_by = |path| router.endpoint(path).unwrap().0.subprotocols[0].clone();
        assert_eq!(served_by("/room/lobby"), "/room/lobby");
        assert_eq!(served_by("/room/kitchen"), "/room/{name}");
        assert_eq!(served_by("/elsewhere"), "fallback");
    }

    #[test]
    fn setup_mistakes_are_recorded_for_bind() {
        struct Quiet;
        impl Handler for Quiet {
            fn on_message(&mut self, _: &Connection, _: DataMessage) {}
        }
        let handler_given_a_callback = Endpoint::handler(|| Quiet).on_message(|_, _| {});
        assert!(
            handler_given_a_callback
                .problem
                .unwrap()
                .contains("Handler")
        );
        let twice = Endpoint::callbacks().on_connect(|_| {}).on_connect(|_| {});
        assert!(twice.problem.unwrap().contains("twice"));
        let events = Endpoint::events(super::super::Events::new()).on_message(|_, _| {});
        assert!(events.problem.unwrap().contains("Events"));
        let fine = Endpoint::events(super::super::Events::new())
            .on_connect(|_| {})
            .on_disconnect(|_, _| {});
        assert!(fine.problem.is_none());
    }

    #[test]
    fn a_list_replaces_the_default() {
        let router = Router {
            allowed_origins: Some(vec!["https://app.example".into()]),
            ..Router::default()
        };
        assert!(router.origin_allowed(Some("https://app.example"), Some("api.example")));
        assert!(!router.origin_allowed(Some("https://api.example"), Some("api.example")));
        let any = Router {
            allowed_origins: Some(vec!["*".into()]),
            ..Router::default()
        };
        assert!(any.origin_allowed(Some("https://evil.example"), Some("api.example")));
    }
}
