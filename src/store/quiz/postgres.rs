//! The quiz's part of the contract in PostgreSQL. An answer takes its question's row `FOR SHARE` before it is
//! stored and the reveal updates that row first, so an answer is either in the reveal's tally or refused, never
//! stored after the tally was read (READ COMMITTED would otherwise let the two pass each other).

use tokio_postgres::{Row, Transaction};

use super::super::postgres::Postgres;
use super::super::{to_sql, Lease, StoreError};
use super::{
    answer_of, board_row_of, slot_of, Board, NewRound, NotStarted, RoundRecord, RoundRow, Stored,
    ROUND_COLUMNS,
};
use crate::quiz::{Answer, Score};

fn round_row(row: &Row) -> Result<RoundRow, StoreError> {
    Ok(RoundRow {
        id: row.try_get(0)?,
        guild_id: row.try_get(1)?,
        channel_id: row.try_get(2)?,
        started_by: row.try_get(3)?,
        locale: row.try_get(4)?,
        questions: row.try_get(5)?,
        application_id: row.try_get(6)?,
        token: row.try_get(7)?,
        started_at: row.try_get(8)?,
        state: row.try_get(9)?,
        stop_requested: row.try_get(10)?,
        ended_at: row.try_get(11)?,
        scores_posted: row.try_get(12)?,
    })
}

/// The rounds `condition` selects (with `values`), each with its slots.
async fn rounds_where(
    transaction: &Transaction<'_>,
    condition: &str,
    values: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<RoundRecord>, StoreError> {
    let rows = transaction
        .query(
            &format!("SELECT {ROUND_COLUMNS} FROM quiz_rounds WHERE {condition} ORDER BY id"),
            values,
        )
        .await?;
    let mut rounds = Vec::with_capacity(rows.len());
    for row in &rows {
        let row = round_row(row)?;
        let slots = transaction
            .query(
                "SELECT position, closes_at_ms, message_id, revealed, shown FROM quiz_questions \
                 WHERE round_id = $1 ORDER BY position",
                &[&row.id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(slot_of((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                )))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        rounds.push(row.into_record(slots));
    }
    Ok(rounds)
}

fn answers_of(rows: &[Row], from: usize) -> Result<Vec<Answer>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(answer_of((
                row.try_get(from)?,
                row.try_get(from + 1)?,
                row.try_get(from + 2)?,
            )))
        })
        .collect()
}

impl Postgres {
    /// Reads rounds in a transaction of their own.
    fn rounds(
        &self,
        condition: &str,
        values: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<RoundRecord>, StoreError> {
        self.run(async |client| {
            let transaction = client.transaction().await?;
            let rounds = rounds_where(&transaction, condition, values).await?;
            transaction.commit().await?;
            Ok(rounds)
        })
    }

    /// One statement; the rows it changed.
    fn quiz_execute(
        &self,
        sql: &str,
        values: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.run(async |client| Ok(client.execute(sql, values).await?))
    }

    pub(in crate::store) fn insert_quiz_round(
        &self,
        round: &NewRound,
        lane: &str,
        questions: &str,
        cooldown: i64,
        lease: &Lease<'_>,
    ) -> Result<Result<RoundRecord, NotStarted>, StoreError> {
        let guild = round.guild_id.map(to_sql);
        let (channel, started_by, application) = (
            to_sql(round.channel_id),
            to_sql(round.started_by),
            to_sql(round.application_id),
        );
        let locale = round.locale.code();
        self.run(async |client| {
            let transaction = client.transaction().await?;
            // Two starts in one lane at once: the second waits here for the first to commit, then sees its round.
            transaction
                .execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lane])
                .await?;
            let running =
                rounds_where(&transaction, "lane = $1 AND state = 'running'", &[&lane]).await?;
            if let Some(running) = running.into_iter().next() {
                return Ok(Err(NotStarted::Running(Box::new(running))));
            }
            let last_end: Option<i64> = transaction
                .query_one(
                    "SELECT MAX(ended_at) FROM quiz_rounds WHERE lane = $1",
                    &[&lane],
                )
                .await?
                .try_get(0)?;
            if let Some(until) = last_end
                .map(|end| end.saturating_add(cooldown))
                .filter(|until| *until > round.now)
            {
                return Ok(Err(NotStarted::Cooldown { until }));
            }
            let id: i64 = transaction
                .query_one(
                    "INSERT INTO quiz_rounds (guild_id, channel_id, lane, started_by, locale, questions, \
                     application_id, token, started_at, state, lease_owner, lease_until) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', $10, $11) RETURNING id",
                    &[
                        &guild,
                        &channel,
                        &lane,
                        &started_by,
                        &locale,
                        &questions,
                        &application,
                        &round.token,
                        &round.now,
                        &lease.owner,
                        &lease.until,
                    ],
                )
                .await?
                .try_get(0)?;
            let record = rounds_where(&transaction, "id = $1", &[&id])
                .await?
                .into_iter()
                .next();
            transaction.commit().await?;
            record
                .map(Ok)
                .ok_or_else(|| StoreError::Postgres("the new round could not be read back".to_owned()))
        })
    }

    pub(in crate::store) fn quiz_round(&self, id: i64) -> Result<Option<RoundRecord>, StoreError> {
        Ok(self.rounds("id = $1", &[&id])?.into_iter().next())
    }

    pub(in crate::store) fn running_quiz_round(
        &self,
        lane: &str,
    ) -> Result<Option<RoundRecord>, StoreError> {
        Ok(self
            .rounds("lane = $1 AND state = 'running'", &[&lane])?
            .into_iter()
            .next())
    }

    pub(in crate::store) fn unfinished_quiz_rounds(
        &self,
        since: i64,
    ) -> Result<Vec<RoundRecord>, StoreError> {
        self.rounds(
            "state = 'running' OR (scores_posted = FALSE AND started_at >= $1)",
            &[&since],
        )
    }

    pub(in crate::store) fn claim_quiz_round(
        &self,
        id: i64,
        lease: &Lease<'_>,
    ) -> Result<bool, StoreError> {
        let changed = self.quiz_execute(
            "UPDATE quiz_rounds SET lease_owner = $2, lease_until = $3 WHERE id = $1 \
             AND (lease_owner IS NULL OR lease_owner = $2 OR starts_with(lease_owner, $5) \
             OR lease_until IS NULL OR lease_until <= $4)",
            &[&id, &lease.owner, &lease.until, &lease.now, &lease.family],
        )?;
        Ok(changed > 0)
    }

    pub(in crate::store) fn open_quiz_question(
        &self,
        round: i64,
        position: i64,
        closes_at_ms: i64,
    ) -> Result<i64, StoreError> {
        self.run(async |client| {
            client
                .execute(
                    "INSERT INTO quiz_questions (round_id, position, closes_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (round_id, position) DO NOTHING",
                    &[&round, &position, &closes_at_ms],
                )
                .await?;
            Ok(client
                .query_one(
                    "SELECT closes_at_ms FROM quiz_questions WHERE round_id = $1 AND position = $2",
                    &[&round, &position],
                )
                .await?
                .try_get(0)?)
        })
    }

    pub(in crate::store) fn quiz_question_sent(
        &self,
        round: i64,
        position: i64,
        message_id: i64,
    ) -> Result<(), StoreError> {
        self.quiz_execute(
            "UPDATE quiz_questions SET message_id = $3 WHERE round_id = $1 AND position = $2",
            &[&round, &position, &message_id],
        )?;
        Ok(())
    }

    pub(in crate::store) fn record_quiz_answer(
        &self,
        round: i64,
        position: i64,
        answer: Answer,
    ) -> Result<Stored, StoreError> {
        let (user, choice) = (
            to_sql(answer.user),
            i64::try_from(answer.option).unwrap_or(i64::MAX),
        );
        self.run(async |client| {
            let transaction = client.transaction().await?;
            let open = transaction
                .query_opt(
                    "SELECT 1 FROM quiz_questions q JOIN quiz_rounds r ON r.id = q.round_id \
                     WHERE q.round_id = $1 AND q.position = $2 AND q.revealed = FALSE \
                     AND r.state = 'running' AND r.stop_requested = FALSE FOR SHARE OF q",
                    &[&round, &position],
                )
                .await?;
            if open.is_none() {
                return Ok(Stored::Closed);
            }
            let inserted = transaction
                .execute(
                    "INSERT INTO quiz_answers (round_id, position, user_id, choice, at_ms) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (round_id, position, user_id) DO NOTHING",
                    &[&round, &position, &user, &choice, &answer.at_ms],
                )
                .await?;
            let stored = if inserted > 0 {
                Stored::Counted
            } else {
                let first: i64 = transaction
                    .query_one(
                        "SELECT choice FROM quiz_answers WHERE round_id = $1 AND position = $2 AND user_id = $3",
                        &[&round, &position, &user],
                    )
                    .await?
                    .try_get(0)?;
                Stored::Already(usize::try_from(first).unwrap_or(usize::MAX))
            };
            transaction.commit().await?;
            Ok(stored)
        })
    }

    pub(in crate::store) fn reveal_quiz_question(
        &self,
        round: i64,
        position: i64,
    ) -> Result<Vec<Answer>, StoreError> {
        self.run(async |client| {
            let transaction = client.transaction().await?;
            // Waits for answers holding the row, and makes every later one see the question closed.
            transaction
                .execute(
                    "UPDATE quiz_questions SET revealed = TRUE WHERE round_id = $1 AND position = $2",
                    &[&round, &position],
                )
                .await?;
            let rows = transaction
                .query(
                    "SELECT user_id, choice, at_ms FROM quiz_answers WHERE round_id = $1 AND position = $2 \
                     ORDER BY seq",
                    &[&round, &position],
                )
                .await?;
            transaction.commit().await?;
            answers_of(&rows, 0)
        })
    }

    pub(in crate::store) fn revealed_quiz_answers(
        &self,
        round: i64,
    ) -> Result<Vec<(usize, Answer)>, StoreError> {
        self.run(async |client| {
            let rows = client
                .query(
                    "SELECT a.position, a.user_id, a.choice, a.at_ms FROM quiz_answers a \
                     JOIN quiz_questions q ON q.round_id = a.round_id AND q.position = a.position \
                     WHERE a.round_id = $1 AND q.revealed = TRUE ORDER BY a.position, a.seq",
                    &[&round],
                )
                .await?;
            let answers = answers_of(&rows, 1)?;
            rows.iter()
                .zip(answers)
                .map(|(row, answer)| {
                    let position: i64 = row.try_get(0)?;
                    Ok((usize::try_from(position).unwrap_or(usize::MAX), answer))
                })
                .collect()
        })
    }

    pub(in crate::store) fn mark_quiz_shown(
        &self,
        round: i64,
        position: i64,
    ) -> Result<(), StoreError> {
        self.quiz_execute(
            "UPDATE quiz_questions SET shown = TRUE WHERE round_id = $1 AND position = $2",
            &[&round, &position],
        )?;
        Ok(())
    }

    pub(in crate::store) fn request_quiz_stop(&self, round: i64) -> Result<bool, StoreError> {
        let changed = self.quiz_execute(
            "UPDATE quiz_rounds SET stop_requested = TRUE WHERE id = $1 AND state = 'running'",
            &[&round],
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
        self.run(async |client| {
            let transaction = client.transaction().await?;
            let guild = transaction
                .query_opt(
                    "UPDATE quiz_rounds SET state = $2, ended_at = $3, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND state = 'running' RETURNING guild_id",
                    &[&round, &state, &now],
                )
                .await?;
            let Some(guild) = guild else {
                return Ok(false);
            };
            let guild: Option<i64> = guild.try_get(0)?;
            if let Some(guild) = guild {
                for score in scores {
                    let (points, right, first) = (
                        i64::from(score.points),
                        i64::from(score.right),
                        i64::from(score.first),
                    );
                    transaction
                        .execute(
                            "INSERT INTO quiz_board (guild_id, user_id, points, right_answers, firsts, rounds) \
                             VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (guild_id, user_id) DO UPDATE SET \
                             points = quiz_board.points + excluded.points, \
                             right_answers = quiz_board.right_answers + excluded.right_answers, \
                             firsts = quiz_board.firsts + excluded.firsts, rounds = quiz_board.rounds + 1",
                            &[&guild, &to_sql(score.user), &points, &right, &first],
                        )
                        .await?;
                }
            }
            transaction.commit().await?;
            Ok(true)
        })
    }

    pub(in crate::store) fn mark_quiz_scores_posted(&self, round: i64) -> Result<(), StoreError> {
        self.quiz_execute(
            "UPDATE quiz_rounds SET scores_posted = TRUE WHERE id = $1",
            &[&round],
        )?;
        Ok(())
    }

    pub(in crate::store) fn quiz_board(
        &self,
        guild: i64,
        user: i64,
        limit: i64,
    ) -> Result<Board, StoreError> {
        let ranked = "SELECT user_id, points, right_answers, firsts, rounds, \
             RANK() OVER (ORDER BY points DESC) AS place FROM quiz_board WHERE guild_id = $1";
        let read = |row: &Row| -> Result<_, StoreError> {
            Ok(board_row_of((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
            )))
        };
        self.run(async |client| {
            let top = client
                .query(
                    &format!("{ranked} ORDER BY points DESC, right_answers DESC, user_id LIMIT $2"),
                    &[&guild, &limit],
                )
                .await?
                .iter()
                .map(read)
                .collect::<Result<Vec<_>, _>>()?;
            let me = client
                .query_opt(
                    &format!("SELECT * FROM ({ranked}) AS ranked WHERE user_id = $2"),
                    &[&guild, &user],
                )
                .await?
                .as_ref()
                .map(read)
                .transpose()?;
            let rounds: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM quiz_rounds WHERE guild_id = $1 AND state <> 'running'",
                    &[&guild],
                )
                .await?
                .try_get(0)?;
            Ok(Board {
                top,
                me,
                rounds: u64::try_from(rounds).unwrap_or(0),
            })
        })
    }
}
