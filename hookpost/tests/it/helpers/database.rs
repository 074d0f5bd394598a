//! Straight to the server's own database, for what the API does not show
//! (rows a background job removed) or cannot make (a corrupt row): the embedded
//! store's file through rusqlite, or the server's PostgreSQL database.

use super::TestServer;
use std::time::Duration;

/// Runs one statement without parameters; answers the rows it changed, or the
/// first column of its first row for a query such as `SELECT COUNT(*) …`.
/// The SQL must read the same on both backends.
pub async fn sql(server: &TestServer, statement: &str) -> i64 {
    match server.database_url() {
        None => {
            let conn = rusqlite::Connection::open(server.data_dir().join("hookpost.db"))
                .expect("open the embedded store");
            conn.busy_timeout(Duration::from_secs(5)).unwrap();
            if statement
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("SELECT")
            {
                conn.query_row(statement, [], |r| r.get(0))
                    .expect(statement)
            } else {
                conn.execute(statement, []).expect(statement) as i64
            }
        }
        Some(url) => {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect to the server's database");
            tokio::spawn(connection);
            if statement
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("SELECT")
            {
                client
                    .query_one(statement, &[])
                    .await
                    .expect(statement)
                    .get(0)
            } else {
                client.execute(statement, &[]).await.expect(statement) as i64
            }
        }
    }
}
