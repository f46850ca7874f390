//! JSON Lines push parser (issue 3; shared with Userpilot).
