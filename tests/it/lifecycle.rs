//! delete, purge, retention sweeps, soft delete with restore, and the policies.
