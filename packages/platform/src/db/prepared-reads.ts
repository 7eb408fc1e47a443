import type { EntityMetadata, EntityName, MikroORM } from "@mikro-orm/core";
import type { PostgreSqlConnection } from "@mikro-orm/postgresql";
import { quoteIdent } from "./quote-ident.js";

/** A pg client as knex's pool hands it out: named queries become prepared statements. */
interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** Hot reads of one entity's rows, bypassing the ORM's unit of work. */
export interface PreparedReads<Row> {
  /** The select list: every column of the entity, aliased to its property name. */
  readonly columns: string;
  /**
   * Runs `text` as the prepared statement `name` (parsed and planned once per connection) on the
   * ORM's own pool, and returns rows shaped as the entity's (property names, numbers, dates, JSON
   * already parsed). `text` must select `columns`; the same name must always carry the same text.
   */
  query(name: string, text: string, values: readonly unknown[]): Promise<Row[]>;
}

/**
 * Single-row and page reads on the hot path without the ORM's per-call work (a fork, the
 * identity map, hydration, knex's query building): MikroORM stays the model (the column list and
 * types come from its metadata) and the migrations; writes still go through it. The rows are
 * plain objects, never managed entities: read them, do not persist them.
 */
export function createPreparedReads<Row extends object>(
  orm: MikroORM,
  entity: EntityName<Row>,
): PreparedReads<Row> {
  const meta: EntityMetadata<Row> = orm.getMetadata().get(entity as never);
  const scalars = meta.props.filter((p) => p.kind === "scalar" && p.fieldNames?.length === 1);
  const columns = scalars
    .map((p) => `${quoteIdent(p.fieldNames[0]!)} as ${quoteIdent(p.name)}`)
    .join(", ");
  // pg returns int8 as a string (the entity's bigint("number") properties are numbers), and the
  // ORM's pool leaves timestamps as text for the ORM to parse: here they become Dates.
  const numeric = scalars.filter((p) => p.runtimeType === "number").map((p) => p.name as string);
  const dates = scalars.filter((p) => p.runtimeType === "Date").map((p) => p.name as string);
  const knex = (orm.em.getConnection() as PostgreSqlConnection).getKnex();
  return {
    columns,
    async query(name, text, values) {
      const client = (await knex.client.acquireConnection()) as PgClient;
      try {
        const { rows } = await client.query({ name, text, values: [...values] });
        for (const row of rows as Record<string, unknown>[]) {
          for (const key of numeric) {
            const value = row[key];
            if (typeof value === "string") row[key] = Number(value);
          }
          for (const key of dates) {
            const value = row[key];
            if (typeof value === "string") row[key] = new Date(value);
          }
        }
        return rows as Row[];
      } finally {
        await knex.client.releaseConnection(client);
      }
    },
  };
}
