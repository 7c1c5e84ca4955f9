//! The conformance suite on both backends: `sqlite::*` on temporary files,
//! `postgres::*` on fresh databases when `APOSTLE_TEST_POSTGRES_URL` is set.

mod sqlite {
    apostle_store_tests::conformance_tests!(Sqlite);
}

mod postgres {
    apostle_store_tests::conformance_tests!(Postgres);
}
