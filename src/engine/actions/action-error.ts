/** An error an action raises on purpose; its name is what retry and catch rules match. */
export class ActionError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}
