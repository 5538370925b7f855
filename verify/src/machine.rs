//! Reading this machine's identifiers (std only).
