//! One module per vendor API: endpoints, models and validation of every parameter.

pub mod backstory;
pub mod userpilot;
