//! Seeded synthetic building footprints.
