//! Each route is declared once, with its documentation beside it, and built one of two ways.
//!
//! - [`Serve`] builds plain axum routes. The documentation closures are never called, so no
//!   schema is derived and no operation described: a process that serves the API (the Lambda
//!   function above all, whose package and start this keeps small) links neither aide's
//!   generation nor schemars', and serves the document written ahead of time
//!   (`shared/openapi.json`).
//! - [`Describe`] builds aide's routes, which write the OpenAPI document as they go:
//!   [`super::document`], which a test holds `shared/openapi.json` to.
//!
//! Which one is built is a type, so a binary only holds the code of the one it names.

use aide::axum::ApiRouter;
use aide::axum::routing::ApiMethodRouter;
use aide::operation::OperationHandler;
use aide::transform::TransformOperation;
use aide::{OperationInput, OperationOutput};
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};

use super::AppState;

/// The methods a route is declared with.
#[derive(Clone, Copy)]
pub(super) enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// How the declared routes are built: [`Serve`] or [`Describe`].
pub(super) trait Build: 'static {
    type Router;
    type Methods;

    fn router() -> Self::Router;

    /// A path's methods before any is added.
    fn methods() -> Self::Methods;

    /// `handler` answers `verb` on the path `methods` will be routed at; `transform` describes
    /// the operation (called only where the document is written).
    fn on<H, I, O, T, F>(
        methods: Self::Methods,
        verb: Verb,
        handler: H,
        transform: F,
    ) -> Self::Methods
    where
        H: Handler<T, AppState> + OperationHandler<I, O>,
        I: OperationInput,
        O: OperationOutput,
        T: 'static,
        F: FnOnce(TransformOperation<'_>) -> TransformOperation<'_>;

    fn route(router: Self::Router, path: &str, methods: Self::Methods) -> Self::Router;

    fn merge(router: Self::Router, other: Self::Router) -> Self::Router;
}

/// Plain axum routes, for serving.
pub(super) enum Serve {}

impl Build for Serve {
    type Router = axum::Router<AppState>;
    type Methods = MethodRouter<AppState>;

    fn router() -> Self::Router {
        axum::Router::new()
    }

    fn methods() -> Self::Methods {
        MethodRouter::new()
    }

    fn on<H, I, O, T, F>(methods: Self::Methods, verb: Verb, handler: H, _: F) -> Self::Methods
    where
        H: Handler<T, AppState> + OperationHandler<I, O>,
        I: OperationInput,
        O: OperationOutput,
        T: 'static,
        F: FnOnce(TransformOperation<'_>) -> TransformOperation<'_>,
    {
        let filter = match verb {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        };
        methods.on(filter, handler)
    }

    fn route(router: Self::Router, path: &str, methods: Self::Methods) -> Self::Router {
        router.route(path, methods)
    }

    fn merge(router: Self::Router, other: Self::Router) -> Self::Router {
        router.merge(other)
    }
}

/// aide's routes, which describe every operation as they are declared.
pub(super) enum Describe {}

impl Build for Describe {
    type Router = ApiRouter<AppState>;
    type Methods = ApiMethodRouter<AppState>;

    fn router() -> Self::Router {
        ApiRouter::new()
    }

    fn methods() -> Self::Methods {
        ApiMethodRouter::new()
    }

    fn on<H, I, O, T, F>(
        methods: Self::Methods,
        verb: Verb,
        handler: H,
        transform: F,
    ) -> Self::Methods
    where
        H: Handler<T, AppState> + OperationHandler<I, O>,
        I: OperationInput,
        O: OperationOutput,
        T: 'static,
        F: FnOnce(TransformOperation<'_>) -> TransformOperation<'_>,
    {
        match verb {
            Verb::Get => methods.get_with(handler, transform),
            Verb::Post => methods.post_with(handler, transform),
            Verb::Put => methods.put_with(handler, transform),
            Verb::Patch => methods.patch_with(handler, transform),
            Verb::Delete => methods.delete_with(handler, transform),
        }
    }

    fn route(router: Self::Router, path: &str, methods: Self::Methods) -> Self::Router {
        router.api_route(path, methods)
    }

    fn merge(router: Self::Router, other: Self::Router) -> Self::Router {
        router.merge(other)
    }
}

/// Routes being declared, built as `B` says.
pub(super) struct Routes<B: Build>(B::Router);

impl<B: Build> Routes<B> {
    pub(super) fn new() -> Self {
        Self(B::router())
    }

    /// `methods` at `path`.
    pub(super) fn api_route(self, path: &str, methods: Methods<B>) -> Self {
        Self(B::route(self.0, path, methods.0))
    }

    pub(super) fn merge(self, other: Self) -> Self {
        Self(B::merge(self.0, other.0))
    }

    pub(super) fn into_inner(self) -> B::Router {
        self.0
    }
}

/// The methods of one path, each with its handler and description.
pub(super) struct Methods<B: Build>(B::Methods);

/// The methods of [`Methods`] for every verb, and a free function for each verb a path's
/// methods start with.
macro_rules! verbs {
    ($($name:ident => $verb:ident),* ; starting with $($first:ident => $first_verb:ident),*) => {
        impl<B: Build> Methods<B> {
            $(
                /// Also answer this method with `handler`, described by `transform`.
                pub(super) fn $name<H, I, O, T, F>(self, handler: H, transform: F) -> Self
                where
                    H: Handler<T, AppState> + OperationHandler<I, O>,
                    I: OperationInput,
                    O: OperationOutput,
                    T: 'static,
                    F: FnOnce(TransformOperation<'_>) -> TransformOperation<'_>,
                {
                    Self(B::on(self.0, Verb::$verb, handler, transform))
                }
            )*
        }

        $(
            /// A path's methods, starting with this one: answered by `handler`, described by
            /// `transform`.
            pub(super) fn $first<B, H, I, O, T, F>(handler: H, transform: F) -> Methods<B>
            where
                B: Build,
                H: Handler<T, AppState> + OperationHandler<I, O>,
                I: OperationInput,
                O: OperationOutput,
                T: 'static,
                F: FnOnce(TransformOperation<'_>) -> TransformOperation<'_>,
            {
                Methods(B::on(B::methods(), Verb::$first_verb, handler, transform))
            }
        )*
    };
}

verbs! {
    get_with => Get, post_with => Post, put_with => Put, patch_with => Patch, delete_with => Delete;
    starting with get_with => Get, post_with => Post, put_with => Put, delete_with => Delete
}
