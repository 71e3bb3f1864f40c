//! [`Session`]: where one storage call runs its statements. On SQLite, a call of one
//! statement runs straight on the connection (it is atomic by itself, and `BEGIN`/`COMMIT`
//! would be two more trips to the connection's thread); on PostgreSQL every call runs in a
//! transaction, the only place the shared pool's connection can be pointed at the workspace's
//! schema.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement,
};

/// A connection ready for one call's statements.
pub(crate) enum Session {
    /// Statements run one by one, each in its own implicit transaction.
    Direct(DatabaseConnection),
    /// Statements run in a transaction, committed by [`Session::finish`].
    Transaction(DatabaseTransaction),
}

impl Session {
    /// Ends the call: commits the transaction, if there is one.
    pub(crate) async fn finish(self) -> Result<(), DbErr> {
        match self {
            Session::Direct(_) => Ok(()),
            Session::Transaction(txn) => txn.commit().await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Session {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Session::Direct(db) => db.get_database_backend(),
            Session::Transaction(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Session::Direct(db) => db.execute_raw(stmt).await,
            Session::Transaction(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Session::Direct(db) => db.execute_unprepared(sql).await,
            Session::Transaction(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Session::Direct(db) => db.query_one_raw(stmt).await,
            Session::Transaction(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Session::Direct(db) => db.query_all_raw(stmt).await,
            Session::Transaction(txn) => txn.query_all_raw(stmt).await,
        }
    }
}
