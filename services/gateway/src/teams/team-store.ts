import type { MikroORM } from "@mikro-orm/postgresql";
import type { Role } from "./roles.js";

/** A team row. */
export interface TeamRow {
  name: string;
  displayName: string;
  createTime: Date;
}

/** A member row, with the user's name. */
export interface MemberRow {
  userId: string;
  username: string;
  role: Role;
  createTime: Date;
}

/** Storage of teams and memberships in the gateway schema. */
export interface TeamStore {
  /** Stores a team; null when the name is taken. */
  create(name: string, displayName: string): Promise<TeamRow | null>;
  get(name: string): Promise<TeamRow | null>;
  /** Teams in name order; only `names` when given. */
  list(names?: readonly string[]): Promise<TeamRow[]>;
  /** Deletes a team and its memberships; false when there was none. */
  delete(name: string): Promise<boolean>;
  members(team: string): Promise<MemberRow[]>;
  /** Adds a member or changes their role. */
  setMember(team: string, userId: string, role: Role): Promise<MemberRow>;
  /** Removes a member; false when they were not one. */
  removeMember(team: string, userId: string): Promise<boolean>;
  /** A user's teams and role in each. */
  membershipsOf(userId: string): Promise<Map<string, Role>>;
  /** How many of the team's API keys are active (a team with some cannot be deleted). */
  activeKeys(team: string): Promise<number>;
  /** How many virtual servers the team owns. */
  virtualServers(team: string): Promise<number>;
}

interface TeamRecord {
  name: string;
  display_name: string;
  create_time: Date;
}

const teamOf = (r: TeamRecord): TeamRow => ({
  name: r.name,
  displayName: r.display_name,
  createTime: new Date(r.create_time),
});

/** A TeamStore over the gateway's MikroORM. */
export function createTeamStore(orm: MikroORM): TeamStore {
  const em = () => orm.em.fork();
  const count = async (sql: string, team: string) => {
    const rows = await em().execute<{ n: string }[]>(sql, [team]);
    return Number(rows[0]?.n ?? 0);
  };
  return {
    async create(name, displayName) {
      const rows = await em().execute<TeamRecord[]>(
        `insert into "gateway"."teams" ("name", "display_name", "create_time") values (?, ?, now())
         on conflict ("name") do nothing returning *`,
        [name, displayName],
      );
      return rows[0] ? teamOf(rows[0]) : null;
    },

    async get(name) {
      const rows = await em().execute<TeamRecord[]>(
        `select * from "gateway"."teams" where "name" = ?`,
        [name],
      );
      return rows[0] ? teamOf(rows[0]) : null;
    },

    async list(names) {
      // Teams are few: one read, filtered here.
      const rows = await em().execute<TeamRecord[]>(
        `select * from "gateway"."teams" order by "name"`,
      );
      return rows.filter((r) => !names || names.includes(r.name)).map(teamOf);
    },

    async delete(name) {
      const rows = await em().execute<{ name: string }[]>(
        `delete from "gateway"."teams" where "name" = ? returning "name"`,
        [name],
      );
      return rows.length === 1;
    },

    async members(team) {
      const rows = await em().execute<
        { user_id: string; username: string; role: Role; create_time: Date }[]
      >(
        `select m."user_id", u."username", m."role", m."create_time"
         from "gateway"."team_members" m join "gateway"."users" u on u."id" = m."user_id"
         where m."team" = ? order by u."username"`,
        [team],
      );
      return rows.map((r) => ({
        userId: r.user_id,
        username: r.username,
        role: r.role,
        createTime: new Date(r.create_time),
      }));
    },

    async setMember(team, userId, role) {
      const rows = await em().execute<{ create_time: Date; username: string }[]>(
        `with m as (
           insert into "gateway"."team_members" ("team", "user_id", "role", "create_time")
           values (?, ?, ?, now())
           on conflict ("team", "user_id") do update set "role" = excluded."role"
           returning "user_id", "create_time")
         select m."create_time", u."username" from m join "gateway"."users" u on u."id" = m."user_id"`,
        [team, userId, role],
      );
      const row = rows[0]!;
      return { userId, username: row.username, role, createTime: new Date(row.create_time) };
    },

    async removeMember(team, userId) {
      const rows = await em().execute<{ team: string }[]>(
        `delete from "gateway"."team_members" where "team" = ? and "user_id" = ? returning "team"`,
        [team, userId],
      );
      return rows.length === 1;
    },

    async membershipsOf(userId) {
      const rows = await em().execute<{ team: string; role: Role }[]>(
        `select "team", "role" from "gateway"."team_members" where "user_id" = ?`,
        [userId],
      );
      return new Map(rows.map((r) => [r.team, r.role]));
    },

    activeKeys: (team) =>
      count(
        `select count(*) as n from "gateway"."api_keys" where "team" = ? and "revoke_time" is null
         and ("expire_time" is null or "expire_time" > now())`,
        team,
      ),

    virtualServers: (team) =>
      count(`select count(*) as n from "gateway"."virtual_servers" where "team" = ?`, team),
  };
}
