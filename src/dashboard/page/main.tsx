import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Api, ApiError } from './api.ts';
import { Audit } from './audit.tsx';
import { EventFeed } from './event-feed.ts';
import { Executions } from './executions.tsx';
import { messageOf } from './format.ts';
import { LiveLog, StateBadge } from './live-log.tsx';
import { forgetSession, keep, kept } from './session.ts';
import { System } from './system.tsx';
import { TimeTravel } from './time-travel.tsx';

type Role = 'VIEWER' | 'EDITOR' | 'ADMIN';

interface Me {
  readonly name: string;
  readonly role: Role;
  readonly workspaceId: string;
}

/** The panels, and the least role that may use each (the service refuses the others anyway). */
const PANELS = [
  { id: 'log', title: 'Live log', role: 'VIEWER' },
  { id: 'executions', title: 'Executions', role: 'VIEWER' },
  { id: 'travel', title: 'Time travel', role: 'VIEWER' },
  { id: 'audit', title: 'Audit', role: 'ADMIN' },
  { id: 'system', title: 'System', role: 'ADMIN' },
] as const;

const RANK: Record<Role, number> = { VIEWER: 0, EDITOR: 1, ADMIN: 2 };
const may = (me: Me, role: Role) => RANK[me.role] >= RANK[role];

function SignIn({ onKey, problem }: { onKey: (key: string) => void; problem?: string }) {
  const [key, setKey] = useState('');
  return (
    <main class="sign-in">
      <h1>Flowledger dashboard</h1>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          onKey(key.trim());
        }}
      >
        <label>
          API key or token
          <input type="password" value={key} onInput={(event) => setKey(event.currentTarget.value)} autocomplete="off" required />
        </label>
        <button type="submit">Open</button>
        <p class="muted">Kept for this tab only, and sent as a bearer token on HTTP and WebSocket.</p>
        {problem && (
          <p class="error" role="alert">
            {problem}
          </p>
        )}
      </form>
    </main>
  );
}

function Dashboard({ api, me, onSignOut }: { api: Api; me: Me; onSignOut: () => void }) {
  const feed = useMemo(() => new EventFeed(api), [api]);
  useEffect(() => () => feed.close(), [feed]);
  const panels = PANELS.filter((panel) => may(me, panel.role));
  const [open, setOpen] = useState<string>(panels[0]!.id);
  const select = (index: number) => {
    const panel = panels[(index + panels.length) % panels.length]!;
    setOpen(panel.id);
    document.getElementById(`tab-${panel.id}`)?.focus();
  };
  return (
    <>
      <header>
        <h1>Flowledger</h1>
        <StateBadge feed={feed} />
        <span class="who" data-testid="who">
          {me.name} · {me.role.toLowerCase()}
        </span>
        <button type="button" onClick={onSignOut}>
          Forget key
        </button>
      </header>
      <nav
        role="tablist"
        aria-label="Panels"
        onKeyDown={(event) => {
          const index = panels.findIndex((panel) => panel.id === open);
          if (event.key === 'ArrowRight') select(index + 1);
          if (event.key === 'ArrowLeft') select(index - 1);
        }}
      >
        {panels.map((panel) => (
          <button
            key={panel.id}
            id={`tab-${panel.id}`}
            type="button"
            role="tab"
            aria-selected={open === panel.id}
            aria-controls={`panel-${panel.id}`}
            tabIndex={open === panel.id ? 0 : -1}
            onClick={() => setOpen(panel.id)}
          >
            {panel.title}
          </button>
        ))}
      </nav>
      {/* The live log stays mounted (hidden) so that it keeps its rows while another panel is open. */}
      <div id="panel-log" role="tabpanel" aria-labelledby="tab-log" hidden={open !== 'log'}>
        <LiveLog feed={feed} />
      </div>
      {open === 'executions' && (
        <div id="panel-executions" role="tabpanel" aria-labelledby="tab-executions">
          <Executions api={api} feed={feed} canRun={may(me, 'EDITOR')} />
        </div>
      )}
      {open === 'travel' && (
        <div id="panel-travel" role="tabpanel" aria-labelledby="tab-travel">
          <TimeTravel api={api} />
        </div>
      )}
      {open === 'audit' && (
        <div id="panel-audit" role="tabpanel" aria-labelledby="tab-audit">
          <Audit api={api} />
        </div>
      )}
      {open === 'system' && (
        <div id="panel-system" role="tabpanel" aria-labelledby="tab-system">
          <System api={api} />
        </div>
      )}
    </>
  );
}

function App() {
  const [key, setKey] = useState(kept('key'));
  const [me, setMe] = useState<Me>();
  const [problem, setProblem] = useState<string>();
  const [attempt, setAttempt] = useState(0);
  const signOut = (reason?: string) => {
    forgetSession();
    setMe(undefined);
    setKey(null);
    setProblem(reason);
  };
  const api = useMemo(() => (key ? new Api(key, (reason) => signOut(`Signed out: ${reason}`)) : undefined), [key]);
  useEffect(() => {
    if (!api) return;
    setProblem(undefined);
    api.query<{ me: Me }>('{ me { name role workspaceId } }').then(
      ({ me }) => setMe(me),
      // A refused key signs out (through the Api); anything else (the service away) keeps it, to try again.
      (error: unknown) => {
        if (!(error instanceof ApiError && error.code === 'UNAUTHENTICATED')) setProblem(messageOf(error));
      },
    );
  }, [api, attempt]);
  useEffect(() => () => api?.dispose(), [api]);
  if (!api)
    return (
      <SignIn
        problem={problem}
        onKey={(next) => {
          forgetSession();
          keep('key', next);
          setKey(next);
        }}
      />
    );
  if (!me)
    return (
      <main class="sign-in">
        <p class="muted">Checking the key…</p>
        {problem && (
          <>
            <p class="error" role="alert">
              {problem}
            </p>
            <button type="button" onClick={() => setAttempt(attempt + 1)}>
              Try again
            </button>
            <button type="button" onClick={() => signOut()}>
              Forget key
            </button>
          </>
        )}
      </main>
    );
  return <Dashboard api={api} me={me} onSignOut={() => signOut()} />;
}

render(<App />, document.getElementById('app')!);
