//! Records (JSON objects) flattened to CSV rows: dotted columns, arrays joined or exploded (issue 3; shared with Userpilot).
