// Phone verification client for Android (Kotlin 1.9+, minSdk 26): the two API
// calls, the error's reason and Retry-After, and what the app does next. It
// needs no Android API and no library but kotlinx-coroutines (HttpURLConnection,
// the small JSON reader and writer below), so it also runs on a plain JVM:
// scripts/test.sh compiles it there and runs a whole verification with it
// against the local stack (check/KitCheck.kt). The Android-only part, the SMS
// Retriever, is in SmsRetrieverCodeSource.kt, behind the OneTimeCodeSource
// interface.
//
// Gradle: implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.1")
// Plain http (the local stack at http://10.0.2.2:3000 from the emulator) needs
// android:usesCleartextTraffic="true" in a debug manifest.
package com.example.phoneverification

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.io.IOException
import java.net.HttpURLConnection
import java.net.URI
import java.time.Instant
import java.util.Locale

/** 200 {"result": {...}} of sendVerificationCode. */
data class PendingVerification(
    val phoneNumber: String, // E.164, as the API normalized it: verify with this one
    val channel: String, // "sms", "call" or "whatsapp"
    val expiresAt: Instant,
    val resendAvailableAt: Instant, // show a countdown; "Resend" before it gets resend_too_soon
    val attemptsRemaining: Int,
    val deliveryUnconfirmed: Boolean, // the provider answered late: the code is probably on its way
    val fallback: Fallback?, // offer "Call me instead" from fallback.availableAt, before resendAvailableAt
)

/** The channel to offer if the code does not come, and from when (docs/api.md, "Channel fallback"). */
data class Fallback(val channels: List<String>, val availableAt: Instant)

/** 200 {"result": {...}} of verifyPhoneNumber; send [token] to your backend, which checks it. */
data class ApprovedVerification(val phoneNumber: String, val verifiedAt: Instant, val token: String?)

/** A failure: {code, error, reason, attemptsRemaining?, retryAfter?, parameter?}. */
class VerificationException(
    val httpStatus: Int,
    val reason: String, // stable and machine-readable: branch on this, or on nextStep
    message: String, // the API's human message, fit to show
    val attemptsRemaining: Int?,
    val retryAfterSeconds: Long?, // Retry-After header, else the body's retryAfter
    val parameter: String?,
) : Exception(message) {
    val nextStep: NextStep get() = NextStep.of(this)

    override fun toString() = "VerificationException: HTTP $httpStatus $reason: $message"
}

/** What the app does for the reasons a user can meet (docs/api.md, "Errors"). */
sealed interface NextStep {
    data class RetypeCode(val attemptsLeft: Int?) : NextStep // incorrect_code
    data object EnterNewerCode : NextStep // code_replaced
    data object RequestNewCode : NextStep // the code is spent, gone or used
    data class Wait(val seconds: Long) : NextStep // resend_too_soon and the other limits; 503s
    data object FixNumber : NextStep // back to the number field
    data object ChooseOtherChannel : NextStep // offer a call, or another number
    data object ShowMessage : NextStep // anything else: show the exception's message

    companion object {
        fun of(e: VerificationException): NextStep = when (e.reason) {
            "incorrect_code" -> RetypeCode(e.attemptsRemaining)
            "code_replaced" -> EnterNewerCode
            "max_attempts_reached", "no_pending_verification", "code_already_used" -> RequestNewCode
            "phone_number_missing_country_code", "invalid_phone_number", "recipient_invalid",
            "recipient_unreachable", "premium_rate_number" -> FixNumber
            "number_cannot_receive_sms", "recipient_cannot_receive", "channel_disabled" -> ChooseOtherChannel
            else -> e.retryAfterSeconds?.let(::Wait) ?: ShowMessage
        }
    }
}

/**
 * Where the code can come from without the user typing it: on Android the SMS
 * Retriever (SmsRetrieverCodeSource.kt); in scripts/test.sh the Twilio
 * stand-in. [start] it right before sendCode; [onCode] gets the code, or
 * [onTimeout] is called (let the user type it). [stop] when the screen goes away.
 */
interface OneTimeCodeSource {
    fun start(onCode: (String) -> Unit, onTimeout: () -> Unit)
    fun stop()
}

/** The code in an SMS: the first run of exactly [length] digits (the text, which holds it, comes before the app-hash line). */
fun codeInMessage(sms: String, length: Int = 6): String? = Regex("(?<!\\d)\\d{$length}(?!\\d)").find(sms)?.value

class PhoneVerificationClient(
    apiBase: String, // the stack's ApiUrl output, e.g. https://abc123.execute-api.us-east-1.amazonaws.com
    private val timeoutMillis: Int = 15_000,
) {
    private val base = apiBase.trimEnd('/')

    /** A resend is the same call, and may switch channel ("call" when no SMS came). */
    suspend fun sendCode(
        phoneNumber: String,
        channel: String = "sms",
        locale: String = Locale.getDefault().toLanguageTag(),
    ): PendingVerification {
        val r = call("sendVerificationCode", mapOf("phoneNumber" to phoneNumber, "channel" to channel, "locale" to locale))
        return PendingVerification(
            phoneNumber = r.string("phoneNumber"),
            channel = r.string("channel"),
            expiresAt = Instant.parse(r.string("expiresAt")),
            resendAvailableAt = Instant.parse(r.string("resendAvailableAt")),
            attemptsRemaining = r.int("attemptsRemaining") ?: throw IOException("the answer lacks attemptsRemaining"),
            deliveryUnconfirmed = r["delivery"] == "unconfirmed",
            fallback = (r["fallback"] as? Map<*, *>)?.let { f ->
                Fallback(
                    channels = (f["channels"] as? List<*>).orEmpty().filterIsInstance<String>(),
                    availableAt = Instant.parse(f.string("availableAt")),
                )
            },
        )
    }

    suspend fun verify(phoneNumber: String, code: String): ApprovedVerification {
        val r = call("verifyPhoneNumber", mapOf("phoneNumber" to phoneNumber, "phoneVerificationCode" to code))
        return ApprovedVerification(
            phoneNumber = r.string("phoneNumber"),
            verifiedAt = Instant.parse(r.string("verifiedAt")),
            token = r["token"] as? String,
        )
    }

    /** POST {base}/functions/NAME; the `result`, or throws VerificationException (IOException when offline). */
    private suspend fun call(function: String, params: Map<String, String>): Map<*, *> = withContext(Dispatchers.IO) {
        val connection = URI("$base/functions/$function").toURL().openConnection() as HttpURLConnection
        try {
            connection.requestMethod = "POST"
            connection.connectTimeout = timeoutMillis
            connection.readTimeout = timeoutMillis
            connection.doOutput = true
            connection.setRequestProperty("Content-Type", "application/json")
            connection.outputStream.use { it.write(Json.write(params).encodeToByteArray()) }
            val status = connection.responseCode
            val body = (if (status < 400) connection.inputStream else connection.errorStream)
                ?.use { it.readBytes().decodeToString() }.orEmpty()
            val notTheApi = { IOException("not the API's answer (HTTP $status)") } // a proxy's error page?
            val json = (try { Json.parse(body) } catch (e: IllegalArgumentException) { null }) as? Map<*, *>
                ?: throw notTheApi()
            if (status == 200) return@withContext json["result"] as? Map<*, *> ?: throw notTheApi()
            throw VerificationException(
                httpStatus = status,
                reason = json["reason"] as? String ?: throw notTheApi(),
                message = json["error"] as? String ?: "HTTP $status",
                attemptsRemaining = json.int("attemptsRemaining"),
                retryAfterSeconds = connection.getHeaderField("Retry-After")?.toLongOrNull()
                    ?: (json["retryAfter"] as? Long),
                parameter = json["parameter"] as? String,
            )
        } finally {
            connection.disconnect()
        }
    }

    private fun Map<*, *>.string(key: String) = this[key] as? String ?: throw IOException("the answer lacks $key")

    private fun Map<*, *>.int(key: String) = (this[key] as? Long)?.toInt()
}

/**
 * Just the JSON the API speaks, so that the kit needs no library on a plain
 * JVM: objects become Map<String, Any?>, arrays List<Any?>, integers Long,
 * other numbers Double. Anything else throws IllegalArgumentException.
 */
internal object Json {
    fun parse(text: String): Any? = Reader(text).document()

    fun write(params: Map<String, String>): String =
        params.entries.joinToString(",", "{", "}") { (key, value) -> "${quote(key)}:${quote(value)}" }

    private fun quote(s: String) = buildString {
        append('"')
        for (c in s) {
            when {
                c == '"' || c == '\\' -> append('\\').append(c)
                c < ' ' -> append("\\u%04x".format(c.code))
                else -> append(c)
            }
        }
        append('"')
    }

    private val NUMBER = Regex("-?(0|[1-9]\\d*)(\\.\\d+)?([eE][+-]?\\d+)?")
    private val ESCAPES = mapOf('"' to '"', '\\' to '\\', '/' to '/', 'b' to '\b', 'f' to '\u000C', 'n' to '\n', 'r' to '\r', 't' to '\t')

    private class Reader(private val text: String) {
        private var at = 0

        fun document(): Any? = value().also { space(); require(at == text.length) { "junk after the JSON at $at" } }

        private fun value(): Any? {
            space()
            return when (text.getOrNull(at)) {
                '{' -> items('}') { string().also { expect(':') } to value() }.toMap()
                '[' -> items(']') { value() }
                '"' -> string()
                't' -> word("true", true)
                'f' -> word("false", false)
                'n' -> word("null", null)
                else -> NUMBER.matchAt(text, at)?.value?.also { at += it.length }
                    ?.let { it.toLongOrNull() ?: it.toDouble() }
                    ?: throw IllegalArgumentException("unexpected character at $at")
            }
        }

        /** The items of an object or array, from its opening bracket to [end]. */
        private fun <T> items(end: Char, item: () -> T): List<T> {
            at++
            val items = mutableListOf<T>()
            space()
            if (text.getOrNull(at) == end) return items.also { at++ }
            while (true) {
                items += item()
                space()
                when (text.getOrNull(at++)) {
                    ',' -> {}
                    end -> return items
                    else -> throw IllegalArgumentException("expected ',' or '$end' at ${at - 1}")
                }
            }
        }

        private fun string(): String {
            expect('"')
            val out = StringBuilder()
            while (true) {
                when (val c = text.getOrNull(at++)) {
                    null -> throw IllegalArgumentException("unterminated string")
                    '"' -> return out.toString()
                    '\\' -> {
                        val e = text.getOrNull(at++)
                        if (e == 'u') {
                            val hex = text.substring(at, minOf(at + 4, text.length))
                            out.append(hex.toIntOrNull(16)?.takeIf { hex.length == 4 }?.toChar()
                                ?: throw IllegalArgumentException("bad \\u escape at $at"))
                            at += 4
                        } else {
                            out.append(ESCAPES[e] ?: throw IllegalArgumentException("bad escape at ${at - 1}"))
                        }
                    }
                    else -> out.append(c)
                }
            }
        }

        private fun word(word: String, value: Any?): Any? {
            require(text.startsWith(word, at)) { "unexpected character at $at" }
            at += word.length
            return value
        }

        private fun expect(c: Char) {
            space()
            require(text.getOrNull(at++) == c) { "expected '$c' at ${at - 1}" }
        }

        private fun space() {
            while (at < text.length && text[at] in " \t\r\n") at++
        }
    }
}
