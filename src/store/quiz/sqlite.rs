//! The quiz's part of the contract in SQLite: an immediate transaction is the single writer, so an answer and the
//! reveal of its question never interleave.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::super::sqlite::Sqlite;
use super::super::{to_sql, Lease, StoreError};
use super::{
    answer_of, board_row_of, slot_of, Board, NewRound, NotStarted, RoundRecord, RoundRow, Stored,
    ROUND_COLUMNS,
};
use crate::quiz::{Answer, Score};

fn round_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RoundRow> {
    Ok(RoundRow {
        id: row.get(0)?,
        guild_id: row.get(1)?,
        channel_id: row.get(2)?,
        started_by: row.get(3)?,
        locale: row.get(4)?,
        questions: row.get(5)?,
        application_id: row.get(6)?,
        token: row.get(7)?,
        started_at: row.get(8)?,
        state: row.get(9)?,
        stop_requested: row.get(10)?,
        ended_at: row.get(11)?,
        scores_posted: row.get(12)?,
    })
}

/// The rounds `condition` selects (with `values`), each with its slots.
fn rounds_where(
    connection: &Connection,
    condition: &str,
    values: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<RoundRecord>> {
    let rows = connection
        .prepare(&format!(
            "SELECT {ROUND_COLUMNS} FROM quiz_rounds WHERE {condition} ORDER BY id"
        ))?
        .query_map(values, round_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut slots = connection.prepare(
        "SELECT position, closes_at_ms, message_id, revealed, shown FROM quiz_questions \
         WHERE round_id = ?1 ORDER BY position",
    )?;
    rows.into_iter()
        .map(|row| {
            let found = slots
                .query_map(params![row.id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .map(|slot| slot.map(slot_of))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(row.into_record(found))
        })
        .collect()
}

impl Sqlite {
    pub(in crate::store) fn insert_quiz_round(
        &self,
        round: &NewRound,
        lane: &str,
        questions: &str,
        cooldown: i64,
        lease: &Lease<'_>,
    ) -> Result<Result<RoundRecord, NotStarted>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let running = rounds_where(&transaction, "lane = ?1 AND state = 'running'", &[&lane])?;
        if let Some(running) = running.into_iter().next() {
            return Ok(Err(NotStarted::Running(Box::new(running))));
        }
        let last_end: Option<i64> = transaction.query_row(
            "SELECT MAX(ended_at) FROM quiz_rounds WHERE lane = ?1",
            params![lane],
            |row| row.get(0),
        )?;
        if let Some(until) = last_end
            .map(|end| end.saturating_add(cooldown))
            .filter(|until| *until > round.now)
        {
            return Ok(Err(NotStarted::Cooldown { until }));
        }
        transaction.execute(
            "INSERT INTO quiz_rounds (guild_id, channel_id, lane, started_by, locale, questions, application_id, \
             token, started_at, state, lease_owner, lease_until) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'running', ?10, ?11)",
            params![
                round.guild_id.map(to_sql),
                to_sql(round.channel_id),
                lane,
                to_sql(round.started_by),
                round.locale.code(),
                questions,
                to_sql(round.application_id),
                round.token,
                round.now,
                lease.owner,
                lease.until,
            ],
        )?;
        let id = transaction.last_insert_rowid();
        let record = rounds_where(&transaction, "id = ?1", &[&id])?
            .into_iter()
            .next();
        transaction.commit()?;
        record
            .map(Ok)
            .ok_or_else(|| StoreError::Task("the new round could not be read back".to_owned()))
    }

    pub(in crate::store) fn quiz_round(&self, id: i64) -> Result<Option<RoundRecord>, StoreError> {
        Ok(rounds_where(&self.lock(), "id = ?1", &[&id])?
            .into_iter()
            .next())
    }

    pub(in crate::store) fn running_quiz_round(
        &self,
        lane: &str,
    ) -> Result<Option<RoundRecord>, StoreError> {
        let found = rounds_where(&self.lock(), "lane = ?1 AND state = 'running'", &[&lane])?;
        Ok(found.into_iter().next())
    }

    pub(in crate::store) fn unfinished_quiz_rounds(
        &self,
        since: i64,
    ) -> Result<Vec<RoundRecord>, StoreError> {
        Ok(rounds_where(
            &self.lock(),
            "state = 'running' OR (scores_posted = FALSE AND started_at >= ?1)",
            &[&since],
        )?)
    }

    pub(in crate::store) fn claim_quiz_round(
        &self,
        id: i64,
        lease: &Lease<'_>,
    ) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "UPDATE quiz_rounds SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1 \
             AND (lease_owner IS NULL OR lease_owner = ?2 OR substr(lease_owner, 1, length(?5)) = ?5 \
             OR lease_until IS NULL OR lease_until <= ?4)",
            params![id, lease.owner, lease.until, lease.now, lease.family],
        )?;
        Ok(changed > 0)
    }

    pub(in crate::store) fn open_quiz_question(
        &self,
        round: i64,
        position: i64,
        closes_at_ms: i64,
    ) -> Result<i64, StoreError> {
        let connection = self.lock();
        connection.execute(
            "INSERT INTO quiz_questions (round_id, position, closes_at_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (round_id, position) DO NOTHING",
            params![round, position, closes_at_ms],
        )?;
        Ok(connection.query_row(
            "SELECT closes_at_ms FROM quiz_questions WHERE round_id = ?1 AND position = ?2",
            params![round, position],
            |row| row.get(0),
        )?)
    }

    pub(in crate::store) fn quiz_question_sent(
        &self,
        round: i64,
        position: i64,
        message_id: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE quiz_questions SET message_id = ?3 WHERE round_id = ?1 AND position = ?2",
            params![round, position, message_id],
        )?;
        Ok(())
    }

    pub(in crate::store) fn record_quiz_answer(
        &self,
        round: i64,
        position: i64,
        answer: Answer,
    ) -> Result<Stored, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let open: Option<i64> = transaction
            .query_row(
                "SELECT 1 FROM quiz_questions q JOIN quiz_rounds r ON r.id = q.round_id \
                 WHERE q.round_id = ?1 AND q.position = ?2 AND q.revealed = FALSE \
                 AND r.state = 'running' AND r.stop_requested = FALSE",
                params![round, position],
                |row| row.get(0),
            )
            .optional()?;
        if open.is_none() {
            return Ok(Stored::Closed);
        }
        let inserted = transaction.execute(
            "INSERT INTO quiz_answers (round_id, position, user_id, choice, at_ms) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (round_id, position, user_id) DO NOTHING",
            params![
                round,
                position,
                to_sql(answer.user),
                i64::try_from(answer.option).unwrap_or(i64::MAX),
                answer.at_ms
            ],
        )?;
        let stored = if inserted > 0 {
            Stored::Counted
        } else {
            let first: i64 = transaction.query_row(
                "SELECT choice FROM quiz_answers WHERE round_id = ?1 AND position = ?2 AND user_id = ?3",
                params![round, position, to_sql(answer.user)],
                |row| row.get(0),
            )?;
            Stored::Already(usize::try_from(first).unwrap_or(usize::MAX))
        };
        transaction.commit()?;
        Ok(stored)
    }

    pub(in crate::store) fn reveal_quiz_question(
        &self,
        round: i64,
        position: i64,
    ) -> Result<Vec<Answer>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "UPDATE quiz_questions SET revealed = TRUE WHERE round_id = ?1 AND position = ?2",
            params![round, position],
        )?;
        let answers = transaction
            .prepare(
                "SELECT user_id, choice, at_ms FROM quiz_answers WHERE round_id = ?1 AND position = ?2 \
                 ORDER BY seq",
            )?
            .query_map(params![round, position], |row| {
                Ok(answer_of((row.get(0)?, row.get(1)?, row.get(2)?)))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        transaction.commit()?;
        Ok(answers)
    }

    pub(in crate::store) fn revealed_quiz_answers(
        &self,
        round: i64,
    ) -> Result<Vec<(usize, Answer)>, StoreError> {
        let connection = self.lock();
        let answers = connection
            .prepare(
                "SELECT a.position, a.user_id, a.choice, a.at_ms FROM quiz_answers a \
                 JOIN quiz_questions q ON q.round_id = a.round_id AND q.position = a.position \
                 WHERE a.round_id = ?1 AND q.revealed = TRUE ORDER BY a.position, a.seq",
            )?
            .query_map(params![round], |row| {
                let position: i64 = row.get(0)?;
                Ok((
                    usize::try_from(position).unwrap_or(usize::MAX),
                    answer_of((row.get(1)?, row.get(2)?, row.get(3)?)),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(answers)
    }

    pub(in crate::store) fn mark_quiz_shown(
        &self,
        round: i64,
        position: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE quiz_questions SET shown = TRUE WHERE round_id = ?1 AND position = ?2",
            params![round, position],
        )?;
        Ok(())
    }

    pub(in crate::store) fn request_quiz_stop(&self, round: i64) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "UPDATE quiz_rounds SET stop_requested = TRUE WHERE id = ?1 AND state = 'running'",
            params![round],
        )?;
        Ok(changed > 0)
    }

    pub(in crate::store) fn finish_quiz_round(
        &self,
        round: i64,
        state: &str,
        scores: &[Score],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = transaction.execute(
            "UPDATE quiz_rounds SET state = ?2, ended_at = ?3, lease_owner = NULL, lease_until = NULL \
             WHERE id = ?1 AND state = 'running'",
            params![round, state, now],
        )?;
        if changed == 0 {
            return Ok(false);
        }
        let guild: Option<i64> = transaction.query_row(
            "SELECT guild_id FROM quiz_rounds WHERE id = ?1",
            params![round],
            |row| row.get(0),
        )?;
        if let Some(guild) = guild {
            for score in scores {
                transaction.execute(
                    "INSERT INTO quiz_board (guild_id, user_id, points, right_answers, firsts, rounds) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT (guild_id, user_id) DO UPDATE SET \
                     points = points + excluded.points, right_answers = right_answers + excluded.right_answers, \
                     firsts = firsts + excluded.firsts, rounds = rounds + 1",
                    params![guild, to_sql(score.user), score.points, score.right, score.first],
                )?;
            }
        }
        transaction.commit()?;
        Ok(true)
    }

    pub(in crate::store) fn mark_quiz_scores_posted(&self, round: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE quiz_rounds SET scores_posted = TRUE WHERE id = ?1",
            params![round],
        )?;
        Ok(())
    }

    pub(in crate::store) fn quiz_board(
        &self,
        guild: i64,
        user: i64,
        limit: i64,
    ) -> Result<Board, StoreError> {
        let connection = self.lock();
        let ranked = "SELECT user_id, points, right_answers, firsts, rounds, \
             RANK() OVER (ORDER BY points DESC) AS place FROM quiz_board WHERE guild_id = ?1";
        let read = |row: &rusqlite::Row<'_>| {
            Ok(board_row_of((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            )))
        };
        let top = connection
            .prepare(&format!(
                "{ranked} ORDER BY points DESC, right_answers DESC, user_id LIMIT ?2"
            ))?
            .query_map(params![guild, limit], read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let me = connection
            .query_row(
                &format!("SELECT * FROM ({ranked}) WHERE user_id = ?2"),
                params![guild, user],
                read,
            )
            .optional()?;
        let rounds: i64 = connection.query_row(
            "SELECT COUNT(*) FROM quiz_rounds WHERE guild_id = ?1 AND state <> 'running'",
            params![guild],
            |row| row.get(0),
        )?;
        Ok(Board {
            top,
            me,
            rounds: u64::try_from(rounds).unwrap_or(0),
        })
    }
}
