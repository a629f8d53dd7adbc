import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

// A list that renders only the rows in view (fixed height each), so a log of thousands of rows
// costs the page a few dozen elements. Its height is the stylesheet's; it measures it. The active row moves with the arrow keys, Home and End.

const OVERSCAN = 8;

interface Props<T> {
  readonly label: string;
  readonly items: readonly T[];
  readonly rowHeight: number;
  readonly keyOf: (item: T) => string;
  readonly row: (item: T, active: boolean) => ComponentChildren;
  readonly active: number;
  readonly onActive: (index: number) => void;
  /** Keeps the newest (last) row in view as rows arrive, unless the person scrolled away. */
  readonly follow?: boolean;
}

export function VirtualList<T>({ label, items, rowHeight, keyOf, row, active, onActive, follow = false }: Props<T>) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(400);
  useEffect(() => {
    const element = box.current!;
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  useLayoutEffect(() => {
    const element = box.current;
    if (follow && element) element.scrollTop = items.length * rowHeight;
  }, [follow, items, rowHeight]);
  const first = Math.max(0, Math.floor(top / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((top + height) / rowHeight) + OVERSCAN);
  const move = (index: number) => {
    const next = Math.max(0, Math.min(items.length - 1, index));
    onActive(next);
    const element = box.current;
    if (!element) return;
    if (next * rowHeight < element.scrollTop) element.scrollTop = next * rowHeight;
    else if ((next + 1) * rowHeight > element.scrollTop + height) element.scrollTop = (next + 1) * rowHeight - height;
  };
  const keys: Record<string, () => void> = {
    ArrowDown: () => move(active + 1),
    ArrowUp: () => move(active - 1),
    PageDown: () => move(active + Math.floor(height / rowHeight)),
    PageUp: () => move(active - Math.floor(height / rowHeight)),
    Home: () => move(0),
    End: () => move(items.length - 1),
  };
  // Only a rendered row may be the active descendant.
  const activeItem = active >= first && active < last ? items[active] : undefined;
  return (
    <div
      ref={box}
      class="virtual-list"
      role="listbox"
      aria-label={label}
      tabIndex={0}
      aria-activedescendant={activeItem ? `row-${keyOf(activeItem)}` : undefined}
      onScroll={(event) => setTop((event.currentTarget as HTMLDivElement).scrollTop)}
      onKeyDown={(event) => {
        const key = keys[event.key];
        if (!key || items.length === 0) return;
        event.preventDefault();
        key();
      }}
    >
      <div style={{ height: `${items.length * rowHeight}px`, position: 'relative' }}>
        {items.slice(first, last).map((item, offset) => {
          const index = first + offset;
          return (
            <div
              key={keyOf(item)}
              id={`row-${keyOf(item)}`}
              role="option"
              aria-selected={index === active}
              class={index === active ? 'row active' : 'row'}
              style={{ top: `${index * rowHeight}px`, height: `${rowHeight}px` }}
              onClick={() => onActive(index)}
            >
              {row(item, index === active)}
            </div>
          );
        })}
      </div>
    </div>
  );
}
