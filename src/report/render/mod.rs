//! The renderers of the report model: text for a terminal, JSON, and HTML pages whose charts
//! are inline SVG drawn here ([`svg`], laid out by [`timeline`], shared by the pages through
//! [`charts`]; [`labels`] puts options in words). They read the model and format it; nothing
//! is derived here that the JSON would not also hold.

pub mod charts;
pub mod collector;
pub mod compared;
pub mod html;
pub mod html_compare;
mod html_verify;
pub mod json;
pub mod labels;
pub mod page;
pub mod stages;
pub mod svg;
pub mod text;
mod text_compare;
pub mod timeline;
