import type { EntityMetadata, EntityName, EntityProperty, MikroORM } from "@mikro-orm/core";
import type { PostgreSqlConnection } from "@mikro-orm/postgresql";
import { quoteIdent } from "./quote-ident.js";

/** One row to insert: the entity it is a row of (its defineEntity schema), and its values. */
export interface RowInsert {
  entity: object;
  values: object;
}

/** A pg client as knex's pool hands it out: named queries become prepared statements. */
interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<unknown>;
}

interface Table {
  name: string;
  props: EntityProperty[];
  columns: string;
}

const tables = new WeakMap<EntityMetadata, Table>();

function tableOf(orm: MikroORM, entity: object): Table {
  const meta = orm.getMetadata().get(entity as EntityName<object>) as EntityMetadata;
  let table = tables.get(meta);
  if (!table) {
    const props = meta.props.filter((p) => p.kind === "scalar" && p.fieldNames?.length === 1);
    table = {
      name: quoteIdent(meta.tableName),
      props,
      columns: props.map((p) => quoteIdent(p.fieldNames[0]!)).join(", "),
    };
    tables.set(meta, table);
  }
  return table;
}

function isJson(prop: EntityProperty): boolean {
  const column = prop.columnTypes?.[0];
  return column === "jsonb" || column === "json" || String(prop.type).toLowerCase() === "json";
}

/**
 * Inserts rows of several entities (a state row and its outbox event) in one statement, one
 * round trip: data-modifying CTEs, which Postgres runs atomically, with no transaction held open
 * across round trips and none of the ORM's unit-of-work. The columns come from MikroORM's
 * metadata (it stays the model and the migrations); every column is written: a value left out is
 * its property's default, or null. `name` names the prepared statement; it must always be used
 * with the same entities in the same order. Errors are the ORM's own (a unique constraint is
 * UniqueConstraintViolationException, a lost connection a ConnectionException), as from a flush.
 */
export async function insertRows(
  orm: MikroORM,
  name: string,
  rows: readonly RowInsert[],
): Promise<void> {
  const values: unknown[] = [];
  const parts = rows.map((row, i) => {
    const table = tableOf(orm, row.entity);
    const record = row.values as Record<string, unknown>;
    const params = table.props.map((prop) => {
      let value = record[prop.name];
      if (value === undefined) value = prop.default ?? null;
      // pg would write a JS array as a Postgres array: JSON columns get the JSON text.
      if (value !== null && isJson(prop)) value = JSON.stringify(value);
      values.push(value);
      return `$${values.length}`;
    });
    return `r${i} as (insert into ${table.name} (${table.columns}) values (${params.join(", ")}))`;
  });
  const text = `with ${parts.join(", ")} select 1`;
  const knex = (orm.em.getConnection() as PostgreSqlConnection).getKnex();
  // A pool that cannot hand out a connection fails as it does for the ORM (knex's timeout).
  const client = (await knex.client.acquireConnection()) as PgClient;
  try {
    await client.query({ name, text, values });
  } catch (error) {
    throw orm.em.getDriver().convertException(error as Error);
  } finally {
    await knex.client.releaseConnection(client);
  }
}
