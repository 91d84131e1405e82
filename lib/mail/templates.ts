import type { MailMessage } from "./index";

/**
 * The product's messages. Plain text: every link is on its own line, so no mail client mangles it.
 * The links are bearer secrets for the recipient alone (an invitation id, a verification token, a
 * reset token): they go into this one message and nowhere else.
 */

export function invitationMail(args: { to: string; link: string; orgName: string; role: string; inviterEmail: string }): MailMessage {
  return {
    to: args.to,
    subject: `You are invited to ${args.orgName}`,
    text: [
      `${args.inviterEmail} invited you to join ${args.orgName} as ${args.role} in the credential manager.`,
      "",
      "Accept the invitation (valid 7 days; sign in or create an account with this address first):",
      args.link,
      "",
      "If you did not expect this, ignore this message.",
    ].join("\n"),
  };
}

export function verificationMail(args: { to: string; link: string }): MailMessage {
  return {
    to: args.to,
    subject: "Confirm your email address",
    text: [
      "Confirm that this address is yours (the link is valid for 1 hour):",
      args.link,
      "",
      "If you did not create an account, ignore this message.",
    ].join("\n"),
  };
}

export function resetPasswordMail(args: { to: string; link: string }): MailMessage {
  return {
    to: args.to,
    subject: "Reset your password",
    text: [
      "Someone (hopefully you) asked to reset the password of this account. Choose a new one here (valid 1 hour, once):",
      args.link,
      "",
      "If it was not you, ignore this message: your password stays as it is.",
    ].join("\n"),
  };
}
